// The gzip member index (docs/io.md, "Parallel inflation"): our writer's members carry an 'RP'
// FEXTRA subfield with their sizes, files stay standard gzip (zlib, gzip -t, gzip -dc), and the
// reader inflates indexed members in parallel. The test builds its own indexed files with zlib
// (an encoder independent of the writer) to split the stream anywhere: inside the NIfTI header,
// inside a voxel, across volumes, empty members, zero padding, a foreign member appended.
// Expected values come from the same bytes stored as a plain .nii (the pread path).
#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <zlib.h>

#include <cstdlib>
#include <optional>

#include "io_test_util.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/io/nifti.hpp"

using namespace rewardpath;
using namespace rewardpath::io;
using namespace rp_test;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_le(Bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i, v >>= 8) b.push_back(static_cast<std::uint8_t>(v & 0xff));
}
std::uint64_t get_le(const Bytes& b, std::size_t pos, int n) {
  std::uint64_t v = 0;
  for (int i = n; i-- > 0;) v = (v << 8) | b.at(pos + static_cast<std::size_t>(i));
  return v;
}

// One gzip member of in[0, n) whose FEXTRA holds `subfield` ('R','P' with the sizes, as
// documented, or a foreign one such as BGZF's 'B','C').
enum class Extra { rp, bgzf, none };
Bytes member(const std::uint8_t* in, std::size_t n, Extra extra = Extra::rp, int level = 1) {
  const Bytes body = zlib_deflate(in, n, level, -15); // raw deflate
  Bytes m = {0x1f, 0x8b, 8, static_cast<std::uint8_t>(extra == Extra::none ? 0 : 4), 0, 0, 0, 0, 0, 3};
  if (extra == Extra::rp) {
    put_le(m, 20, 2);
    m.insert(m.end(), {'R', 'P', 16, 0});
    put_le(m, 32 + body.size() + 8, 8);
    put_le(m, n, 8);
  } else if (extra == Extra::bgzf) {
    put_le(m, 6, 2);
    m.insert(m.end(), {'B', 'C', 2, 0});
    put_le(m, (18 + body.size() + 8 - 1) & 0xffff, 2);
  }
  m.insert(m.end(), body.begin(), body.end());
  put_le(m, crc32(0, in, static_cast<uInt>(n)), 4);
  put_le(m, n & 0xffffffffu, 4);
  return m;
}

// `raw` cut at `cuts` (increasing offsets), one indexed member per piece.
Bytes indexed_gzip(const Bytes& raw, const std::vector<std::size_t>& cuts) {
  Bytes out;
  std::size_t prev = 0;
  for (std::size_t c : cuts) {
    const Bytes m = member(raw.data() + prev, c - prev);
    out.insert(out.end(), m.begin(), m.end());
    prev = c;
  }
  const Bytes m = member(raw.data() + prev, raw.size() - prev);
  out.insert(out.end(), m.begin(), m.end());
  return out;
}

std::vector<std::size_t> every(std::size_t step, std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t c = step; c < size; c += step) cuts.push_back(c);
  return cuts;
}

// Members as the documented subfield describes them: (compressed start, compressed size,
// uncompressed size).
struct Member {
  std::size_t begin = 0, in_size = 0, out_size = 0;
};
std::vector<Member> parse_index(const Bytes& b) {
  std::vector<Member> ms;
  std::size_t pos = 0;
  while (pos < b.size()) {
    EXPECT_EQ(b.at(pos), 0x1f);
    EXPECT_EQ(b.at(pos + 1), 0x8b);
    EXPECT_EQ(b.at(pos + 3) & 4, 4) << "FEXTRA not set in the member at " << pos;
    EXPECT_EQ(get_le(b, pos + 10, 2), 20u); // XLEN
    EXPECT_EQ(b.at(pos + 12), 'R');
    EXPECT_EQ(b.at(pos + 13), 'P');
    EXPECT_EQ(get_le(b, pos + 14, 2), 16u);
    Member m;
    m.begin = pos;
    m.in_size = get_le(b, pos + 16, 8);
    m.out_size = get_le(b, pos + 24, 8);
    if (m.in_size < 40 || pos + m.in_size > b.size()) {
      ADD_FAILURE() << "member at " << pos << " announces " << m.in_size << " bytes";
      break;
    }
    ms.push_back(m);
    pos += m.in_size;
  }
  return ms;
}

// zlib inflates exactly one gzip member from b[begin...]: (bytes consumed, bytes produced).
std::pair<std::size_t, std::size_t> zlib_member(const Bytes& b, std::size_t begin) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("test: inflateInit2");
  Bytes sink(1 << 16);
  z.next_in = const_cast<Bytef*>(b.data() + begin);
  z.avail_in = static_cast<uInt>(b.size() - begin);
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = sink.data();
    z.avail_out = static_cast<uInt>(sink.size());
    rc = inflate(&z, Z_NO_FLUSH);
  }
  const std::pair<std::size_t, std::size_t> r{z.total_in, z.total_out};
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("test: bad gzip member");
  return r;
}

bool have_gzip() { return std::system("gzip --version >/dev/null 2>&1") == 0; }

// A 4D int16 image (7x6x5, 9 volumes: 420 bytes a volume) as .nii bytes.
Bytes small_nii() {
  nifti_1_header h = make_header({7, 6, 5, 9}, NIFTI_TYPE_INT16, 16);
  h.scl_slope = 0.5f; // scaling applied after inflation
  h.scl_inter = -3.0f;
  return nifti_bytes(h);
}

void expect_equal(const Volume& got, const Volume& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(got.data()[i], want.data()[i]) << what << " value " << i;
}

// read_nifti and NiftiVolumeReader (blocks of `block` volumes) at 1 and 2 TBB threads.
void expect_reads_as(const fs::path& gz, const Volume& want, std::int64_t block) {
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    expect_equal(read_nifti(gz), want, gz.filename().string());
    const NiftiHeader h = read_nifti_header(gz);
    NiftiVolumeReader r(h);
    const auto nv = static_cast<std::size_t>(h.voxels_per_volume());
    std::vector<float> buf(static_cast<std::size_t>(block) * nv);
    while (r.next_volume() < h.volumes()) {
      const auto t0 = r.next_volume();
      const auto c = std::min(block, h.volumes() - t0);
      r.read(c, buf);
      for (std::size_t i = 0; i < static_cast<std::size_t>(c) * nv; ++i)
        ASSERT_EQ(buf[i], want.data()[static_cast<std::size_t>(t0) * nv + i]) << "streamed value " << i;
    }
  }
}

} // namespace

TEST(NiftiGzipMembers, WriterIndexesEveryMemberAndStaysStandardGzip) {
  TempDir dir;
  // 2.36 M voxels: header member + 8 data members of 294912 voxels (an eighth of the image, a
  // multiple of 2^15: docs/io.md), so members end inside volumes (64x64x36 = 147456 voxels each).
  Grid g;
  g.dims = {64, 64, 36};
  Volume v(g, 16);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = static_cast<float>((i * 2654435761u) % 4093u);
  NiftiWriteOptions o;
  o.gzip_level = 1;
  write_nifti(dir / "run.nii.gz", v, o);
  write_nifti(dir / "run.nii", v, o);
  const Bytes gz = read_bytes(dir / "run.nii.gz");
  const auto ms = parse_index(gz);
  ASSERT_EQ(ms.size(), 9u);
  EXPECT_EQ(ms[0].out_size, 352u);
  for (std::size_t m = 1; m < ms.size(); ++m) EXPECT_EQ(ms[m].out_size, 294912u * 4) << "member " << m;
  std::size_t end = 0;
  for (const auto& m : ms) {
    // zlib (no knowledge of the subfield) agrees with both sizes, and with ISIZE
    const auto [used, produced] = zlib_member(gz, m.begin);
    EXPECT_EQ(used, m.in_size);
    EXPECT_EQ(produced, m.out_size);
    EXPECT_EQ(get_le(gz, m.begin + m.in_size - 4, 4), m.out_size);
    end = m.begin + m.in_size;
  }
  EXPECT_EQ(end, gz.size());
  expect_equal(read_nifti(dir / "run.nii.gz"), read_nifti(dir / "run.nii"), "writer round trip");

  if (!have_gzip()) GTEST_SKIP() << "gzip not installed: gzip -t / gzip -dc checks skipped";
  const std::string q = "'" + (dir / "run").string();
  EXPECT_EQ(std::system(("gzip -t " + q + ".nii.gz'").c_str()), 0);
  EXPECT_EQ(std::system(("gzip -dc " + q + ".nii.gz' | cmp -s - " + q + ".nii'").c_str()), 0)
      << "gzip -dc output differs from the .nii";
}

TEST(NiftiGzipMembers, OneMapSplitsIntoMembersAndIsTheSameAtAnyThreadCount) {
  // One 64x64x36 statistical map (147456 voxels): members of 2^15 voxels (an eighth, rounded up to
  // 2^15), so 4 full members and a last one of 16384 voxels; written at 1 and 2 threads.
  TempDir dir;
  Grid g;
  g.dims = {64, 64, 36};
  Volume v(g, 1);
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = static_cast<float>((i * 40503u) % 977u) * 0.25f;
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    write_nifti(dir / "one.nii.gz", v);
  }
  write_nifti(dir / "two.nii.gz", v);
  const Bytes gz = read_bytes(dir / "two.nii.gz");
  EXPECT_EQ(gz, read_bytes(dir / "one.nii.gz")) << "the bytes depend on the thread count";
  const auto ms = parse_index(gz);
  ASSERT_EQ(ms.size(), 6u);
  for (std::size_t m = 1; m < 5; ++m) EXPECT_EQ(ms[m].out_size, 32768u * 4) << "member " << m;
  EXPECT_EQ(ms[5].out_size, 16384u * 4);
  expect_equal(read_nifti(dir / "two.nii.gz"), v, "map round trip");
}

TEST(NiftiGzipMembers, AnySplitReadsTheSameAtOneAndTwoThreads) {
  TempDir dir;
  const Bytes raw = small_nii(); // 352 + 3780 bytes
  write_bytes(dir / "ref.nii", raw);
  const Volume want = read_nifti(dir / "ref.nii");
  struct Layout {
    std::string name;
    Bytes gz;
  };
  std::vector<Layout> layouts;
  // (int16 data: layouts whose members end on voxel boundaries, "one" and "thousand", are widened
  // to float member by member as they are inflated; the others are inflated whole, then widened)
  // everything in one member: data smaller than one member
  layouts.push_back({"one", indexed_gzip(raw, {})});
  // header member, then members of 1000 bytes: cuts across volumes
  auto cuts = every(1000, raw.size());
  cuts.insert(cuts.begin(), 352);
  layouts.push_back({"thousand", indexed_gzip(raw, cuts)});
  // 37-byte members (the first cuts the NIfTI header), one empty member, zero padding at the end
  cuts = every(37, raw.size());
  cuts.insert(cuts.begin() + 5, cuts[4]);
  layouts.push_back({"tiny_empty_padded", indexed_gzip(raw, cuts)});
  layouts.back().gz.resize(layouts.back().gz.size() + 300, 0);
  // indexed members, then a foreign member (gzip -c b >> a): the tail is inflated sequentially
  {
    Bytes g = indexed_gzip(Bytes(raw.begin(), raw.begin() + 2000), {352, 1200});
    const Bytes tail = gzip_bytes(Bytes(raw.begin() + 2000, raw.end()));
    g.insert(g.end(), tail.begin(), tail.end());
    layouts.push_back({"foreign_tail", g});
  }
  // more data after the image (legal): members past the image are checked, not stored
  {
    Bytes longer = raw;
    longer.resize(raw.size() + 3000, 0x77);
    layouts.push_back({"longer", indexed_gzip(longer, {352, 2000, 4000, 5000})});
  }
  // foreign files: one zlib member (gzip -6), BGZF-style members with another subfield, members
  // without FEXTRA
  layouts.push_back({"gzip6", gzip_bytes(raw)});
  for (Extra e : {Extra::bgzf, Extra::none}) {
    Bytes g;
    for (std::size_t c = 0; c < raw.size(); c += 1500) {
      const Bytes m = member(raw.data() + c, std::min<std::size_t>(1500, raw.size() - c), e, 6);
      g.insert(g.end(), m.begin(), m.end());
    }
    layouts.push_back({e == Extra::bgzf ? "bgzf_style" : "no_extra", g});
  }
  for (const auto& l : layouts) {
    SCOPED_TRACE(l.name);
    const fs::path p = dir / (l.name + ".nii.gz");
    write_bytes(p, l.gz);
    for (std::int64_t block : {1, 4}) expect_reads_as(p, want, block);
  }
}

TEST(NiftiGzipMembers, StreamReaderCrossesBatchesAndLargeMembers) {
  // 36 MB of float32 voxels: more than the reader's 32 MiB batch, in members of ~3 MB, and in a
  // layout whose middle member (34 MiB) is larger than a batch (streamed through zlib).
  TempDir dir;
  nifti_1_header h = make_header({100, 100, 10, 90});
  Bytes raw = nifti_bytes(h);
  for (std::size_t i = 352; i + 4 <= raw.size(); i += 4) {
    const float f = static_cast<float>((i / 4) % 1009) - 300.0f;
    std::memcpy(raw.data() + i, &f, 4);
  }
  write_bytes(dir / "ref.nii", raw);
  const Volume want = read_nifti(dir / "ref.nii");
  write_bytes(dir / "batches.nii.gz", indexed_gzip(raw, every(3000001, raw.size())));
  expect_reads_as(dir / "batches.nii.gz", want, 7);
  write_bytes(dir / "large.nii.gz", indexed_gzip(raw, {352, 352 + (std::size_t{34} << 20)}));
  expect_reads_as(dir / "large.nii.gz", want, 30);
}

namespace {

// The error of a whole read and of a streamed read of every volume.
std::pair<std::string, std::string> read_errors(const fs::path& p) {
  const std::string whole = error_of([&] { read_nifti(p); });
  const std::string streamed = error_of([&] {
    const NiftiHeader h = read_nifti_header(p);
    NiftiVolumeReader r(h);
    std::vector<float> buf(static_cast<std::size_t>(h.voxels_per_volume() * h.volumes()));
    r.read(h.volumes(), buf);
  });
  return {whole, streamed};
}

} // namespace

TEST(NiftiGzipMembers, CorruptOrTruncatedMembersAreNamed) {
  TempDir dir;
  const Bytes raw = small_nii();
  auto cuts = every(1000, raw.size());
  cuts.insert(cuts.begin(), 352);
  const Bytes good = indexed_gzip(raw, cuts); // members: header, then 1000-byte pieces
  const auto ms = parse_index(good);
  ASSERT_EQ(ms.size(), 6u);

  // a flipped byte in the middle of member 3's deflate data
  {
    Bytes b = good;
    b[ms[2].begin + ms[2].in_size / 2] ^= 0x5a;
    const fs::path p = dir / "flipped.nii.gz";
    write_bytes(p, b);
    for (const auto& msg : {read_errors(p).first, read_errors(p).second})
      expect_mentions(msg, {p.string(), "corrupt gzip data", "member 3 of 6"});
  }
  // cut in the middle of member 4
  {
    const fs::path p = dir / "cut.nii.gz";
    write_bytes(p, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(ms[3].begin + 50)));
    for (const auto& msg : {read_errors(p).first, read_errors(p).second})
      expect_mentions(msg, {p.string(), "truncated gzip data", "member 4"});
  }
  // cut exactly after member 4 (raw bytes 0..3000): every member is whole, the stream is short
  {
    const fs::path p = dir / "cut_boundary.nii.gz";
    write_bytes(p, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(ms[4].begin)));
    const auto [whole, streamed] = read_errors(p);
    expect_mentions(whole, {p.string(), "truncated", "decompressed file has 3000 bytes"});
    expect_mentions(streamed, {p.string(), "truncated", "volume"});
  }
  // member 2's compressed size field points into member 3
  {
    Bytes b = good;
    b[ms[1].begin + 16] = static_cast<std::uint8_t>(b[ms[1].begin + 16] + 7);
    const fs::path p = dir / "size_field.nii.gz";
    write_bytes(p, b);
    for (const auto& msg : {read_errors(p).first, read_errors(p).second})
      expect_mentions(msg, {p.string(), "corrupt gzip data", "member 2"});
  }
  // member 5's uncompressed size field disagrees with its ISIZE trailer
  {
    Bytes b = good;
    b[ms[4].begin + 24] ^= 0x01;
    const fs::path p = dir / "isize.nii.gz";
    write_bytes(p, b);
    for (const auto& msg : {read_errors(p).first, read_errors(p).second})
      expect_mentions(msg, {p.string(), "corrupt gzip data", "member 5", "trailer"});
  }
}
