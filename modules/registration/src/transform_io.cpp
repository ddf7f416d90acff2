// Transform files: ITK's text format (what ITK's TxtTransformIO and ANTs read and write), and the
// displacement field as a 5D NIfTI-1 vector image (written and read here: our NIfTI reader takes
// 3D/4D images only). No ITK in this unit.
#include <nifti/nifti1.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "image_ops.hpp"
#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration {

namespace {

constexpr const char* kFieldComment = "#rewardpath displacement field: ";

// F A F, F = diag(-1, -1, 1, 1): RAS <-> LPS (self-inverse).
Affine flip_xy(const Affine& a) {
  Affine r = a;
  const double s[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) r[i][j] = s[i] * a[i][j] * s[j];
  return r;
}

std::string g17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::filesystem::path field_path_for(const std::filesystem::path& txt) {
  std::string stem = txt.filename().string();
  if (stem.size() > 4 && stem.ends_with(".txt")) stem.resize(stem.size() - 4);
  return txt.parent_path() / (stem + "_field.nii.gz");
}

std::vector<unsigned char> gzip(const std::string& raw, const std::filesystem::path& what) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error("zlib: cannot initialise gzip compression").context(what.string());
  std::vector<unsigned char> out(deflateBound(&zs, static_cast<uLong>(raw.size())) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("zlib: gzip compression failed").context(what.string());
  out.resize(n);
  return out;
}

void write_field(const std::filesystem::path& path, const Volume& d) {
  if (d.volumes() != 3)
    throw Error("displacement field must have 3 volumes, got " + std::to_string(d.volumes()))
        .context(path.string());
  nifti_1_header h{};
  h.sizeof_hdr = 348;
  h.dim[0] = 5;
  const auto& g = d.grid();
  for (int a = 0; a < 3; ++a) {
    if (g.dims[static_cast<std::size_t>(a)] > 32767)
      throw Error("displacement field too large for NIfTI-1").context(path.string());
    h.dim[a + 1] = static_cast<short>(g.dims[static_cast<std::size_t>(a)]);
  }
  h.dim[4] = 1;
  h.dim[5] = 3;
  h.dim[6] = h.dim[7] = 1;
  h.intent_code = NIFTI_INTENT_VECTOR;
  h.datatype = DT_FLOAT32;
  h.bitpix = 32;
  const auto vs = detail::voxel_size(g);
  h.pixdim[0] = 1.0f; // qfac (unused: qform_code 0)
  for (int a = 0; a < 3; ++a) h.pixdim[a + 1] = static_cast<float>(vs[static_cast<std::size_t>(a)]);
  h.pixdim[4] = h.pixdim[5] = 1.0f;
  h.vox_offset = 352.0f;
  h.scl_slope = 1.0f;
  h.xyzt_units = NIFTI_UNITS_MM;
  std::snprintf(h.descrip, sizeof h.descrip, "rewardpath displacement (LPS mm)");
  std::snprintf(h.intent_name, sizeof h.intent_name, "displacement");
  h.qform_code = 0;
  h.sform_code = NIFTI_XFORM_SCANNER_ANAT;
  for (int c = 0; c < 4; ++c) {
    h.srow_x[c] = static_cast<float>(g.affine[0][static_cast<std::size_t>(c)]);
    h.srow_y[c] = static_cast<float>(g.affine[1][static_cast<std::size_t>(c)]);
    h.srow_z[c] = static_cast<float>(g.affine[2][static_cast<std::size_t>(c)]);
  }
  std::memcpy(h.magic, "n+1\0", 4);

  std::string raw(352 + d.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), &h, sizeof h);
  const auto n = static_cast<std::size_t>(d.voxels_per_volume());
  std::vector<float> lps(d.size());
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < n; ++i) lps[c * n + i] = (c < 2 ? -1.0f : 1.0f) * d.data()[c * n + i];
  std::memcpy(raw.data() + 352, lps.data(), lps.size() * sizeof(float));
  const auto gz = gzip(raw, path);
  AtomicFile f(path);
  f.write(gz.data(), gz.size());
  f.commit();
}

Volume read_field(const std::filesystem::path& path) {
  gzFile fp = gzopen(path.c_str(), "rb");
  if (!fp) throw Error("cannot open displacement field").context(path.string());
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{fp};
  nifti_1_header h{};
  if (gzread(fp, &h, sizeof h) != static_cast<int>(sizeof h) || h.sizeof_hdr != 348)
    throw Error("not a NIfTI-1 file (or byte-swapped, which is not supported here)").context(path.string());
  if (h.dim[0] != 5 || h.dim[4] != 1 || h.dim[5] != 3 || h.datatype != DT_FLOAT32 ||
      h.intent_code != NIFTI_INTENT_VECTOR || h.sform_code <= 0)
    throw Error("expected a float32 5D vector image (x,y,z,1,3) with an sform, as write_transform writes")
        .context(path.string());
  Grid g;
  for (int a = 0; a < 3; ++a) g.dims[static_cast<std::size_t>(a)] = h.dim[a + 1];
  for (int c = 0; c < 4; ++c) {
    g.affine[0][static_cast<std::size_t>(c)] = h.srow_x[c];
    g.affine[1][static_cast<std::size_t>(c)] = h.srow_y[c];
    g.affine[2][static_cast<std::size_t>(c)] = h.srow_z[c];
  }
  g.spacing_mm = detail::voxel_size(g);
  Volume d(g, 3);
  if (gzseek(fp, static_cast<z_off_t>(h.vox_offset), SEEK_SET) < 0)
    throw Error("cannot seek to the voxel data").context(path.string());
  const auto bytes = static_cast<unsigned>(d.size() * sizeof(float));
  if (gzread(fp, d.data(), bytes) != static_cast<int>(bytes))
    throw Error("truncated displacement field").context(path.string());
  const auto n = static_cast<std::size_t>(d.voxels_per_volume());
  for (std::size_t i = 0; i < 2 * n; ++i) d.data()[i] = -d.data()[i]; // LPS -> RAS
  return d;
}

std::vector<double> numbers(const std::string& s, const std::string& what) {
  std::istringstream in(s);
  std::vector<double> v;
  std::string tok;
  while (in >> tok) {
    char* end = nullptr;
    const double x = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str() || *end != '\0' || !std::isfinite(x))
      throw Error(what + ": '" + tok + "' is not a finite number");
    v.push_back(x);
  }
  return v;
}

using M3 = std::array<std::array<double, 3>, 3>;
M3 mul3(const M3& a, const M3& b) {
  M3 r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) r[i][j] += a[i][k] * b[k][j];
  return r;
}
M3 rot(int axis, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  if (axis == 0) return {{{1, 0, 0}, {0, c, -s}, {0, s, c}}};
  if (axis == 1) return {{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}};
  return {{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}};
}
M3 versor(double x, double y, double z) {
  const double n2 = x * x + y * y + z * z;
  if (n2 > 1.0 + 1e-9) throw Error("versor has norm > 1");
  const double w = std::sqrt(std::max(0.0, 1.0 - n2));
  return {{{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
           {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
           {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}}};
}

// The LPS affine of one ITK transform: x -> M (x - c) + c + t.
Affine itk_affine(const std::string& type, const std::vector<double>& p, const std::vector<double>& fixed) {
  auto need = [&](std::size_t np, std::size_t nf) {
    if (p.size() != np || fixed.size() < nf)
      throw Error(type + ": expected " + std::to_string(np) + " parameters and " + std::to_string(nf) +
                  " fixed parameters, got " + std::to_string(p.size()) + " and " +
                  std::to_string(fixed.size()));
  };
  M3 m{};
  std::array<double, 3> t{}, c{};
  const std::string base = type.substr(0, type.find('_'));
  if (base == "AffineTransform" || base == "MatrixOffsetTransformBase") {
    need(12, 3);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) m[i][j] = p[static_cast<std::size_t>(3 * i + j)];
    t = {p[9], p[10], p[11]};
  } else if (base == "Euler3DTransform") {
    need(6, 3);
    const bool zyx = fixed.size() > 3 && fixed[3] != 0.0; // ITK's ComputeZYX flag
    m = zyx ? mul3(rot(2, p[2]), mul3(rot(1, p[1]), rot(0, p[0])))
            : mul3(rot(2, p[2]), mul3(rot(0, p[0]), rot(1, p[1])));
    t = {p[3], p[4], p[5]};
  } else if (base == "VersorRigid3DTransform") {
    need(6, 3);
    m = versor(p[0], p[1], p[2]);
    t = {p[3], p[4], p[5]};
  } else if (base == "Similarity3DTransform") {
    need(7, 3);
    m = versor(p[0], p[1], p[2]);
    for (auto& row : m)
      for (double& x : row) x *= p[6];
    t = {p[3], p[4], p[5]};
  } else if (base == "TranslationTransform") {
    need(3, 0);
    m = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    t = {p[0], p[1], p[2]};
  } else {
    throw Error("transform type '" + type +
                "' is not supported (expected AffineTransform, MatrixOffsetTransformBase, Euler3DTransform, "
                "VersorRigid3DTransform, Similarity3DTransform or TranslationTransform, 3D)");
  }
  if (base != "TranslationTransform") c = {fixed[0], fixed[1], fixed[2]};
  if (!type.ends_with("_3_3") && !type.ends_with("_3"))
    throw Error("transform type '" + type + "' is not 3D");
  Affine a = identity_affine();
  for (int i = 0; i < 3; ++i) {
    double mc = 0;
    for (int j = 0; j < 3; ++j) {
      a[i][j] = m[i][j];
      mc += m[i][j] * c[static_cast<std::size_t>(j)];
    }
    a[i][3] = t[static_cast<std::size_t>(i)] + c[static_cast<std::size_t>(i)] - mc;
  }
  return a;
}

} // namespace

void write_transform(const std::filesystem::path& path, const Transform& t) {
  for (const auto& row : t.matrix)
    for (double x : row)
      if (!std::isfinite(x)) throw Error("transform has non-finite entries").context(path.string());
  const Affine lps = flip_xy(t.matrix);
  std::string s =
      "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters:";
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) s += " " + g17(lps[i][j]);
  for (int i = 0; i < 3; ++i) s += " " + g17(lps[i][3]);
  s += "\nFixedParameters: 0 0 0\n";
  if (t.displacement) {
    const auto field = field_path_for(path);
    with_context(field.string(), [&] { write_field(field, *t.displacement); });
    s += std::string(kFieldComment) + field.filename().string() + "\n";
  }
  write_file_atomic(path, s);
}

Transform read_transform(const std::filesystem::path& path) {
  return with_context(path.string(), [&] {
    std::ifstream in(path);
    if (!in) throw Error("cannot open transform file");
    std::string line;
    std::getline(in, line);
    if (!line.starts_with("#Insight Transform File"))
      throw Error("not an ITK text transform file (first line is '" + line.substr(0, 60) +
                  "', expected '#Insight Transform File V1.0')");
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> blocks;
    std::string field_name;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with(kFieldComment)) {
        field_name = line.substr(std::strlen(kFieldComment));
        continue;
      }
      if (line.empty() || line[0] == '#') continue;
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, colon);
      const std::string value = line.substr(colon + 1);
      if (key == "Transform") {
        blocks.push_back({value.substr(value.find_first_not_of(' ')), {}});
      } else {
        if (blocks.empty()) throw Error("'" + key + "' before any 'Transform:' line");
        blocks.back().second[key] = value;
      }
    }
    if (blocks.empty()) throw Error("no transform in the file");
    if (blocks.size() > 1)
      throw Error(std::to_string(blocks.size()) + " transforms in the file (" + blocks[0].first +
                  ", ...); only single affine/rigid transform files are supported");
    const auto& [type, kv] = blocks[0];
    const auto p =
        kv.count("Parameters") ? numbers(kv.at("Parameters"), "Parameters") : std::vector<double>{};
    const auto f = kv.count("FixedParameters") ? numbers(kv.at("FixedParameters"), "FixedParameters")
                                               : std::vector<double>{};
    Transform t;
    t.matrix = flip_xy(itk_affine(type, p, f));
    std::smatch m;
    const std::string name = path.filename().string();
    // BIDS from-A_to-B (fMRIPrep/ANTs): resamples an image in A onto B, i.e. the point map
    // B world -> A world: fixed (Transform::from) = B, moving (Transform::to) = A.
    if (std::regex_search(name, m, std::regex("from-([A-Za-z0-9]+)_to-([A-Za-z0-9]+)"))) {
      t.from = m[2];
      t.to = m[1];
    }
    if (!field_name.empty()) {
      const auto field = path.parent_path() / field_name;
      t.displacement = with_context(field.string(), [&] { return read_field(field); });
    }
    return t;
  });
}

} // namespace rewardpath::registration
