#include "rewardpath/io/nifti.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <fmt/format.h>

#include "gzip.hpp"
#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/provenance.hpp"

extern "C" {
#include <libdeflate.h>
#include <nifti2_io.h>
#include <zlib.h>
}

namespace rewardpath::io {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kNifti2HeaderSize = 540;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::uint32_t bswap32(std::uint32_t v) { return __builtin_bswap32(v); }

Affine from_dmat44(const nifti_dmat44& m) {
  Affine a{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) a[r][c] = m.m[r][c];
  return a;
}

double spatial_scale_to_mm(int units) {
  switch (units) {
  case NIFTI_UNITS_METER:
    return 1000.0;
  case NIFTI_UNITS_MICRON:
    return 0.001;
  default:
    return 1.0; // mm, or unknown (taken as mm, as every neuroimaging tool does)
  }
}

std::string spatial_units_name(int units) {
  switch (units) {
  case NIFTI_UNITS_METER:
    return "m";
  case NIFTI_UNITS_MM:
    return "mm";
  case NIFTI_UNITS_MICRON:
    return "um";
  default:
    return "unknown";
  }
}

std::string time_units_name(int units) {
  switch (units) {
  case NIFTI_UNITS_SEC:
    return "s";
  case NIFTI_UNITS_MSEC:
    return "ms";
  case NIFTI_UNITS_USEC:
    return "us";
  case NIFTI_UNITS_HZ:
    return "Hz";
  case NIFTI_UNITS_PPM:
    return "ppm";
  case NIFTI_UNITS_RADS:
    return "rad/s";
  default:
    return "unknown";
  }
}

std::string space_from_xform_code(int code) {
  switch (code) {
  case NIFTI_XFORM_SCANNER_ANAT:
    return "scanner";
  case NIFTI_XFORM_ALIGNED_ANAT:
    return "aligned";
  case NIFTI_XFORM_TALAIRACH:
    return "talairach";
  case NIFTI_XFORM_MNI_152:
    return "MNI152";
  case NIFTI_XFORM_TEMPLATE_OTHER:
    return "template";
  default:
    return "voxel";
  }
}

int xform_code_from_space(const std::string& space) {
  if (space == "scanner" || space == "voxel") return NIFTI_XFORM_SCANNER_ANAT;
  if (space == "aligned") return NIFTI_XFORM_ALIGNED_ANAT;
  if (space == "talairach") return NIFTI_XFORM_TALAIRACH;
  if (space.starts_with("MNI152") || space == "MNIColin27") return NIFTI_XFORM_MNI_152;
  return NIFTI_XFORM_TEMPLATE_OTHER;
}

bool supported_datatype(int dt) {
  switch (dt) {
  case NIFTI_TYPE_UINT8:
  case NIFTI_TYPE_INT8:
  case NIFTI_TYPE_INT16:
  case NIFTI_TYPE_UINT16:
  case NIFTI_TYPE_INT32:
  case NIFTI_TYPE_UINT32:
  case NIFTI_TYPE_INT64:
  case NIFTI_TYPE_UINT64:
  case NIFTI_TYPE_FLOAT32:
  case NIFTI_TYPE_FLOAT64:
    return true;
  default:
    return false;
  }
}

int datatype_size(int dt) {
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(dt, &nbyper, &swapsize);
  return nbyper;
}

// The validated fields of a header, independent of NIfTI-1/2 layout.
struct RawFields {
  std::int64_t dim[8];
  double pixdim[8];
  int datatype;
  int bitpix;
  std::int64_t vox_offset;
  double scl_slope;
  double scl_inter;
};

template <class H> RawFields raw_fields(const H& h) {
  RawFields f{};
  for (int i = 0; i < 8; ++i) {
    f.dim[i] = h.dim[i];
    f.pixdim[i] = h.pixdim[i];
  }
  f.datatype = h.datatype;
  f.bitpix = h.bitpix;
  f.vox_offset = static_cast<std::int64_t>(h.vox_offset);
  f.scl_slope = h.scl_slope; // as stored: niftilib replaces non-finite values with 0
  f.scl_inter = h.scl_inter;
  return f;
}

void check_affine(const Affine& a, const char* which) {
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (!std::isfinite(a[r][c]))
        throw Error(
            fmt::format("{} affine: element [{}][{}] is not finite; expected a finite voxel-to-world matrix",
                        which, r, c));
  const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                     a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                     a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  if (!(std::abs(det) > 1e-12))
    throw Error(fmt::format(
        "{} affine is singular (determinant {}); expected an invertible voxel-to-world matrix", which, det));
}

} // namespace

std::string NiftiHeader::datatype_name() const { return nifti_datatype_string(datatype); }
bool NiftiHeader::is_int16() const { return datatype == NIFTI_TYPE_INT16; }

std::string NiftiHeader::shape_string() const {
  std::string s;
  for (int i = 0; i < std::max(ndim, 1); ++i) s += (i ? "x" : "") + std::to_string(dim[i]);
  return s;
}

bool is_nifti_path(const fs::path& path) {
  const std::string name = path.filename().string();
  return ends_with(name, ".nii") || ends_with(name, ".nii.gz");
}

NiftiHeader read_nifti_header(const fs::path& path, Expect expect) {
  return with_context(path.string(), [&] {
    const std::string name = path.filename().string();
    if (!is_nifti_path(path)) throw Error("not a NIfTI file name: expected the extension .nii or .nii.gz");
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error("file does not exist or is not a regular file");

    NiftiHeader h;
    h.path = path;
    h.gzipped = ends_with(name, ".gz");

    // Bytes 0..539 hold either header; fewer is a truncated file.
    alignas(8) std::byte buf[kNifti2HeaderSize] = {};
    const std::size_t got = detail::read_prefix(path, buf, sizeof buf);
    if (got < 4)
      throw Error(fmt::format("file is truncated: {} bytes, a NIfTI header needs at least 348", got));

    std::int32_t sizeof_hdr = 0;
    std::memcpy(&sizeof_hdr, buf, 4);
    bool swapped = false;
    if (sizeof_hdr != 348 && sizeof_hdr != 540) {
      const auto s = static_cast<std::int32_t>(bswap32(static_cast<std::uint32_t>(sizeof_hdr)));
      if (s == 348 || s == 540) {
        sizeof_hdr = s;
        swapped = true;
      } else {
        throw Error(fmt::format(
            "not a NIfTI file: header field sizeof_hdr is {}; expected 348 (NIfTI-1) or 540 (NIfTI-2)",
            sizeof_hdr));
      }
    }
    if (got < static_cast<std::size_t>(sizeof_hdr))
      throw Error(fmt::format("file is truncated: {} bytes, the NIfTI-{} header alone needs {}", got,
                              sizeof_hdr == 348 ? 1 : 2, sizeof_hdr));
    h.version = sizeof_hdr == 348 ? 1 : 2;
    h.byte_swapped = swapped;

    // Validate the raw fields first: niftilib's conversion rejects a bad dim[0] or datatype with
    // a bare NULL (and a message on stderr), and silently zeroes non-finite scaling fields.
    RawFields f{};
    nifti_1_header n1{};
    nifti_2_header n2{};
    if (h.version == 1) {
      std::memcpy(&n1, buf, sizeof n1);
      if (std::memcmp(n1.magic, "n+1\0", 4) != 0) {
        if (std::memcmp(n1.magic, "ni1\0", 4) == 0)
          throw Error("header field magic is \"ni1\" (a .hdr/.img pair header); expected \"n+1\" in a single "
                      ".nii file");
        throw Error("header field magic is not \"n+1\": not a NIfTI-1 file (Analyze 7.5 is not supported)");
      }
      nifti_1_header checked = n1;
      if (swapped) swap_nifti_header(&checked, 1);
      f = raw_fields(checked);
    } else {
      std::memcpy(&n2, buf, sizeof n2);
      if (std::memcmp(n2.magic, "n+2\0", 4) != 0) {
        if (std::memcmp(n2.magic, "ni2\0", 4) == 0)
          throw Error("header field magic is \"ni2\" (a .hdr/.img pair header); expected \"n+2\" in a single "
                      ".nii file");
        throw Error("header field magic is not \"n+2\": not a NIfTI-2 file");
      }
      nifti_2_header checked = n2;
      if (swapped) swap_nifti_header(&checked, 2);
      f = raw_fields(checked);
    }

    // dim
    if (f.dim[0] < 1 || f.dim[0] > 7)
      throw Error(
          fmt::format("header field dim[0] is {}; expected the number of dimensions, 1 to 7", f.dim[0]));
    h.ndim = static_cast<int>(f.dim[0]);
    for (int i = 1; i <= 7; ++i) {
      if (i <= h.ndim && f.dim[i] < 1)
        throw Error(fmt::format("header field dim[{}] is {}; expected a size >= 1", i, f.dim[i]));
      h.dim[i - 1] = i <= h.ndim ? f.dim[i] : 1;
    }
    for (int i = 5; i <= 7; ++i)
      if (h.dim[i - 1] > 1)
        throw Error(
            fmt::format("image has {} dimensions ({}); rewardpath reads 3D images and 4D time series only",
                        h.ndim, h.shape_string()));

    // datatype
    h.datatype = f.datatype;
    if (!supported_datatype(f.datatype)) {
      const char* dname = nifti_datatype_string(f.datatype);
      throw Error(fmt::format("header field datatype is {} ({}); expected a real-valued type "
                              "(uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64)",
                              f.datatype, dname ? dname : "unknown"));
    }
    h.bytes_per_voxel = datatype_size(f.datatype);
    if (f.bitpix != 8 * h.bytes_per_voxel)
      throw Error(fmt::format("header field bitpix is {}; datatype {} has {} bits per voxel", f.bitpix,
                              h.datatype_name(), 8 * h.bytes_per_voxel));

    // voxel sizes
    for (int i = 1; i <= 3; ++i) {
      if (i > h.ndim) continue;
      if (!std::isfinite(f.pixdim[i]) || f.pixdim[i] <= 0.0)
        throw Error(fmt::format("header field pixdim[{}] (voxel size) is {}; expected a finite size > 0", i,
                                f.pixdim[i]));
    }

    // offset of the voxel data
    h.vox_offset = f.vox_offset;
    if (h.vox_offset < static_cast<std::int64_t>(sizeof_hdr))
      throw Error(fmt::format("header field vox_offset is {}; expected >= {} in a single-file NIfTI-{}",
                              h.vox_offset, sizeof_hdr, h.version));
    // NIfTI-2 dims and offset are 64-bit: the file extent must not overflow (data_bytes() and the
    // size checks below rely on it).
    {
      std::int64_t bytes = h.bytes_per_voxel, end = 0;
      for (int i = 0; i < 4; ++i)
        if (__builtin_mul_overflow(bytes, h.dim[i], &bytes) ||
            __builtin_add_overflow(bytes, h.vox_offset, &end))
          throw Error(fmt::format("header dims {} of {} from offset {} describe more than 2^63 bytes; "
                                  "expected an image size",
                                  h.shape_string(), h.datatype_name(), h.vox_offset));
    }

    // scaling: slope 0 or non-finite means no scaling (NIfTI standard; nibabel does the same)
    h.scl_slope = f.scl_slope;
    h.scl_inter = f.scl_inter;
    if (!std::isfinite(h.scl_slope) || h.scl_slope == 0.0) {
      h.scl_slope = 0.0;
      h.scl_inter = 0.0;
    } else if (!std::isfinite(h.scl_inter)) {
      throw Error(fmt::format("header field scl_inter is {}; expected a finite intercept", h.scl_inter));
    }

    // The validated header, decoded by niftilib (which swaps a copy itself when needed).
    nifti_image* nim = h.version == 1 ? nifti_convert_n1hdr2nim(n1, path.c_str())
                                      : nifti_convert_n2hdr2nim(n2, path.c_str());
    if (!nim) throw Error("niftilib could not decode the header");
    std::unique_ptr<nifti_image, decltype(&nifti_image_free)> guard(nim, &nifti_image_free);

    // geometry, in millimetres
    const double to_mm = spatial_scale_to_mm(nim->xyz_units);
    h.spatial_units = spatial_units_name(nim->xyz_units);
    h.qform_code = nim->qform_code;
    h.sform_code = nim->sform_code;
    h.qform = from_dmat44(nim->qto_xyz);
    h.sform = from_dmat44(nim->sto_xyz);
    for (auto* a : {&h.qform, &h.sform})
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 4; ++c) (*a)[r][c] *= to_mm;

    Affine chosen;
    int code = 0;
    if (h.sform_code > 0) {
      chosen = h.sform;
      code = h.sform_code;
      h.affine_source = "sform";
      check_affine(chosen, "sform");
    } else if (h.qform_code > 0) {
      chosen = h.qform;
      code = h.qform_code;
      h.affine_source = "qform";
      check_affine(chosen, "qform");
    } else {
      // NIfTI "method 1": voxel sizes only, no orientation.
      chosen = identity_affine();
      for (int i = 0; i < 3; ++i) chosen[i][i] = (i < h.ndim ? f.pixdim[i + 1] : 1.0) * to_mm;
      h.affine_source = "pixdim";
    }
    h.grid.dims = {h.dim[0], h.dim[1], h.dim[2]};
    for (int i = 0; i < 3; ++i) h.grid.spacing_mm[i] = (i < h.ndim ? f.pixdim[i + 1] : 1.0) * to_mm;
    h.grid.affine = chosen;
    h.grid.space = space_from_xform_code(code);

    h.time_units = time_units_name(nim->time_units);
    if (h.ndim >= 4 && std::isfinite(f.pixdim[4]) && f.pixdim[4] > 0.0) {
      switch (nim->time_units) {
      case NIFTI_UNITS_MSEC:
        h.time_step_s = f.pixdim[4] / 1000.0;
        break;
      case NIFTI_UNITS_USEC:
        h.time_step_s = f.pixdim[4] / 1e6;
        break;
      case NIFTI_UNITS_SEC:
      case NIFTI_UNITS_UNKNOWN:
        h.time_step_s = f.pixdim[4];
        break;
      default:
        h.time_step_s = 0.0; // Hz, ppm, rad/s: the 4th axis is not time
      }
    }
    h.description = std::string(nim->descrip, strnlen(nim->descrip, sizeof nim->descrip));

    if (expect == Expect::volume3d && h.volumes() > 1)
      throw Error(fmt::format("expected a 3D image, found a 4D image of {} volumes ({})", h.volumes(),
                              h.shape_string()));
    if (expect == Expect::series4d && h.volumes() < 2)
      throw Error(fmt::format("expected a 4D time series, found a 3D image ({})", h.shape_string()));

    // A plain .nii must hold all the voxels its header announces; checked before any voxel read.
    if (!h.gzipped) {
      const auto size = static_cast<std::int64_t>(fs::file_size(path));
      if (size < h.vox_offset + h.data_bytes())
        throw Error(fmt::format("file is truncated or its header dims are wrong: dims {} of {} need {} bytes "
                                "of voxel data from offset {}, but the file has {} bytes",
                                h.shape_string(), h.datatype_name(), h.data_bytes(), h.vox_offset, size));
    } else {
      // deflate expands at most ~1032:1: a bound that catches absurd dims before allocating.
      const auto size = static_cast<std::int64_t>(fs::file_size(path));
      if ((h.vox_offset + h.data_bytes()) / 1032 > size)
        throw Error(fmt::format("file is truncated or its header dims are wrong: dims {} of {} need {} bytes "
                                "of voxel data, more than a gzip file of {} bytes can hold",
                                h.shape_string(), h.datatype_name(), h.data_bytes(), size));
    }
    return h;
  });
}

namespace {

template <class T> float load_as_float(const std::byte* p, bool swap) {
  T v;
  if (swap) {
    std::byte tmp[sizeof(T)];
    for (std::size_t b = 0; b < sizeof(T); ++b) tmp[b] = p[sizeof(T) - 1 - b];
    std::memcpy(&v, tmp, sizeof(T));
  } else {
    std::memcpy(&v, p, sizeof(T));
  }
  return static_cast<float>(v);
}

// Converts n values of type T stored at `base` into floats at `base`, in place. Wider types go
// forward (writes trail reads), narrower types backward (writes stay ahead of unread input).
template <class T> void convert_in_place(std::byte* base, std::size_t n, bool swap) {
  if constexpr (std::is_same_v<T, float>) {
    if (!swap) return;
  }
  if constexpr (sizeof(T) >= sizeof(float)) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = load_as_float<T>(base + i * sizeof(T), swap);
      std::memcpy(base + i * sizeof(float), &v, sizeof v);
    }
  } else {
    for (std::size_t i = n; i-- > 0;) {
      const float v = load_as_float<T>(base + i * sizeof(T), swap);
      std::memcpy(base + i * sizeof(float), &v, sizeof v);
    }
  }
}

// Calls f(T{}) with the C++ type of a NIfTI datatype.
template <class F> void with_voxel_type(int datatype, F&& f) {
  switch (datatype) {
  case NIFTI_TYPE_UINT8:
    return f(std::uint8_t{});
  case NIFTI_TYPE_INT8:
    return f(std::int8_t{});
  case NIFTI_TYPE_INT16:
    return f(std::int16_t{});
  case NIFTI_TYPE_UINT16:
    return f(std::uint16_t{});
  case NIFTI_TYPE_INT32:
    return f(std::int32_t{});
  case NIFTI_TYPE_UINT32:
    return f(std::uint32_t{});
  case NIFTI_TYPE_INT64:
    return f(std::int64_t{});
  case NIFTI_TYPE_UINT64:
    return f(std::uint64_t{});
  case NIFTI_TYPE_FLOAT32:
    return f(float{});
  case NIFTI_TYPE_FLOAT64:
    return f(double{});
  default:
    throw Error("unsupported datatype " + std::to_string(datatype));
  }
}

void convert_to_float(int datatype, std::byte* base, std::size_t n, bool swap) {
  with_voxel_type(datatype, [&](auto t) { convert_in_place<decltype(t)>(base, n, swap); });
}

// n values of `datatype` at src (any alignment) -> floats at dst.
void widen_to_float(int datatype, const std::byte* src, std::size_t n, bool swap, float* dst) {
  with_voxel_type(datatype, [&](auto t) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = load_as_float<decltype(t)>(src + i * sizeof(t), swap);
  });
}

// The buffer a run is decoded into: memory (a huge-page hint for large buffers: the page faults
// of a fresh 4 KiB-page buffer cost more than the copy from the page cache, bench: 177 MB run,
// pread into fresh memory 2.0 GB/s, into touched memory 11 GB/s), or a scratch file when the
// caller asks for one (ReadOptions::scratch_dir).
ByteStorage allocate_voxel_storage(std::size_t bytes, const ReadOptions& options) {
  return options.scratch_dir.empty() ? ByteStorage::in_memory(bytes)
                                     : ByteStorage::scratch_file(options.scratch_dir, bytes);
}

// Our writer's .nii.gz (size-indexed members, docs/io.md) of a type that needs converting: each
// member is inflated into a per-thread buffer and widened straight into its slice of `out` (n
// floats), in parallel, while it is in cache; no serial in-place pass over the run afterwards.
// Returns empty storage, having allocated nothing, when the file does not qualify: not indexed, a foreign
// tail or extra data after the members, sizes that differ from the header's, or a member boundary
// inside a voxel. The general path then reads it (and reports what is wrong, if anything).
ByteStorage read_indexed_widening(const NiftiHeader& h, const detail::MappedFile& file, std::size_t n,
                                  const ReadOptions& options) {
  const auto in = file.bytes();
  const detail::MemberIndex index = detail::index_members(in);
  const auto offset = static_cast<std::size_t>(h.vox_offset);
  const auto raw_bytes = static_cast<std::size_t>(h.data_bytes());
  const auto bpv = static_cast<std::size_t>(h.bytes_per_voxel);
  if (index.members.empty() || index.out_size != offset + raw_bytes) return {};
  for (std::size_t i = index.in_end; i < in.size(); ++i)
    if (in[i] != std::byte{0}) return {}; // a foreign member follows
  for (const auto& g : index.members) {
    const std::size_t a = std::clamp(g.out_begin, offset, offset + raw_bytes) - offset;
    const std::size_t b = std::clamp(g.out_begin + g.out_size, offset, offset + raw_bytes) - offset;
    if (a % bpv != 0 || b % bpv != 0) return {};
  }
  auto storage = allocate_voxel_storage(n * sizeof(float), options);
  auto* out = reinterpret_cast<float*>(storage.data());
  const bool swap = h.byte_swapped && bpv > 1;
  detail::inflate_members_to(in, index, [&](std::size_t m, std::span<const std::byte> bytes) {
    const auto& g = index.members[m];
    const std::size_t a = std::clamp(g.out_begin, offset, offset + raw_bytes);
    const std::size_t b = std::clamp(g.out_begin + g.out_size, offset, offset + raw_bytes);
    if (b > a)
      widen_to_float(h.datatype, bytes.data() + (a - g.out_begin), (b - a) / bpv, swap,
                     out + (a - offset) / bpv);
    file.release(g.in_begin, g.in_size); // peak memory: the floats, not the floats and the file
  });
  return storage;
}

void read_exact_at(int fd, std::byte* out, std::size_t n, std::int64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out + done, std::min<std::size_t>(n - done, 1u << 30),
                              static_cast<off_t>(offset + static_cast<std::int64_t>(done)));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("read failed: ") + std::strerror(errno));
    }
    if (r == 0) throw Error("file ended before all voxel data was read (truncated while reading?)");
    done += static_cast<std::size_t>(r);
  }
}

// The stored voxel bytes of `h`, starting `data_start` bytes into `storage` (a multiple of
// `align`), with room for `payload` bytes from there. .nii is read with pread; .nii.gz (mapped in
// `file`) inflated whole, members in parallel.
struct RawVoxels {
  ByteStorage storage;
  std::size_t data_start = 0;
};
RawVoxels read_raw_voxels(const NiftiHeader& h, const detail::MappedFile* file, std::size_t payload,
                          std::size_t align, const ReadOptions& options) {
  const auto raw_bytes = static_cast<std::size_t>(h.data_bytes());
  RawVoxels raw;
  if (!h.gzipped) {
    raw.storage = allocate_voxel_storage(payload, options);
    const int fd = ::open(h.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(std::string("cannot open: ") + std::strerror(errno));
    ::posix_fadvise(fd, h.vox_offset, static_cast<off_t>(raw_bytes), POSIX_FADV_SEQUENTIAL);
    try {
      read_exact_at(fd, raw.storage.data(), raw_bytes, h.vox_offset);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    return raw;
  }
  // A .gz stream is inflated whole (header included), so the data land at vox_offset and move
  // down to an aligned start if needed.
  const auto offset = static_cast<std::size_t>(h.vox_offset);
  const std::size_t aligned = (offset + align - 1) / align * align;
  raw.storage = allocate_voxel_storage(aligned + payload, options);
  std::size_t produced = 0;
  if (detail::has_gzip_magic(file->bytes())) {
    const auto r = detail::gunzip_into(file->bytes(), raw.storage.data(), offset + raw_bytes);
    produced = r.output_full ? offset + raw_bytes : r.bytes_out;
    if (r.output_full) {
      // More data follows the image in the stream (legal, rare; or corruption that inflates
      // to extra bytes): re-read the exact prefix, and inflate the rest to check its CRCs.
      produced = detail::read_prefix(h.path, raw.storage.data(), offset + raw_bytes, /*check_rest=*/true);
    }
  } else {
    // Named .gz but stored uncompressed: read it as it is, as zlib-based tools do.
    produced = detail::read_prefix(h.path, raw.storage.data(), offset + raw_bytes);
  }
  if (produced < offset + raw_bytes)
    throw Error(fmt::format("file is truncated or its header dims are wrong: dims {} of {} need {} bytes "
                            "of voxel data from offset {}, but the decompressed file has {} bytes",
                            h.shape_string(), h.datatype_name(), raw_bytes, offset, produced));
  if (aligned != offset) std::memmove(raw.storage.data() + aligned, raw.storage.data() + offset, raw_bytes);
  raw.data_start = aligned;
  return raw;
}

// Whether read values are stored * scl_slope + scl_inter (the header check already turned a zero or
// non-finite slope into 0: no scaling).
bool scales(const NiftiHeader& h) {
  return h.scl_slope != 0.0 && !(h.scl_slope == 1.0 && h.scl_inter == 0.0);
}

} // namespace

Volume read_nifti_voxels(const NiftiHeader& h, const ReadOptions& options) {
  return with_context(h.path.string(), [&] {
    const auto n = static_cast<std::size_t>(h.voxels_per_volume() * h.volumes());
    const std::size_t payload = std::max(static_cast<std::size_t>(h.data_bytes()), n * sizeof(float));
    std::unique_ptr<detail::MappedFile> file;
    if (h.gzipped) file = std::make_unique<detail::MappedFile>(h.path);
    RawVoxels raw;
    // Our writer's members are widened to float as they are inflated (no pass over the run after).
    if (file && detail::has_gzip_magic(file->bytes()) &&
        !(h.datatype == NIFTI_TYPE_FLOAT32 && !h.byte_swapped))
      raw.storage = read_indexed_widening(h, *file, n, options);
    const bool converted = raw.storage.data() != nullptr;
    if (!converted) raw = read_raw_voxels(h, file.get(), payload, sizeof(float), options);
    file.reset();

    const bool swap = h.byte_swapped && h.bytes_per_voxel > 1;
    if (!converted) convert_to_float(h.datatype, raw.storage.data() + raw.data_start, n, swap);
    FloatBuffer buffer = FloatBuffer::adopt(std::move(raw.storage), raw.data_start, n);
    if (scales(h)) {
      const double slope = h.scl_slope, inter = h.scl_inter;
      float* p = buffer.data();
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1 << 16), [&](const auto& r) {
        for (std::size_t i = r.begin(); i != r.end(); ++i)
          p[i] = static_cast<float>(static_cast<double>(p[i]) * slope + inter);
      });
    }
    Volume v(h.grid, h.volumes(), std::move(buffer));
    v.set_time_step_s(h.time_step_s);
    return v;
  });
}

Int16Samples read_nifti_int16(const NiftiHeader& h, const ReadOptions& options) {
  return with_context(h.path.string(), [&] {
    if (!h.is_int16())
      throw Error("the voxel data are " + h.datatype_name() + ", not int16 (read_nifti_int16)");
    const auto n = static_cast<std::size_t>(h.voxels_per_volume() * h.volumes());
    std::unique_ptr<detail::MappedFile> file;
    if (h.gzipped) file = std::make_unique<detail::MappedFile>(h.path);
    RawVoxels raw = read_raw_voxels(h, file.get(), n * sizeof(std::int16_t), alignof(std::int16_t), options);
    file.reset();
    Int16Samples out;
    out.count = n;
    out.data = reinterpret_cast<const std::int16_t*>(raw.storage.data() + raw.data_start);
    if (h.byte_swapped) {
      auto* p = reinterpret_cast<std::uint16_t*>(raw.storage.data() + raw.data_start);
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1 << 16), [&](const auto& r) {
        for (std::size_t i = r.begin(); i != r.end(); ++i) p[i] = __builtin_bswap16(p[i]);
      });
    }
    out.storage = std::move(raw.storage);
    if (scales(h)) {
      out.slope = h.scl_slope;
      out.inter = h.scl_inter;
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

int nifti_datatype_of(StoredType t) {
  switch (t) {
  case StoredType::float32:
    return NIFTI_TYPE_FLOAT32;
  case StoredType::int16:
    return NIFTI_TYPE_INT16;
  case StoredType::uint8:
    return NIFTI_TYPE_UINT8;
  case StoredType::int32:
    return NIFTI_TYPE_INT32;
  }
  return NIFTI_TYPE_FLOAT32;
}

template <class T> void store_chunk(const float* in, std::size_t n, std::byte* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const float v = in[i];
    const double r = std::nearbyint(static_cast<double>(v));
    if (!std::isfinite(v) || r < static_cast<double>(std::numeric_limits<T>::min()) ||
        r > static_cast<double>(std::numeric_limits<T>::max()))
      throw Error(fmt::format("value {} cannot be stored as an integer type of range [{}, {}]", v,
                              std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    const T t = static_cast<T>(r);
    std::memcpy(out + i * sizeof(T), &t, sizeof(T));
  }
}

// Encodes voxels [begin, begin+n) into `out` in the stored type. Errors gain the file name from
// write_nifti's context (adding it here too named the file twice).
void encode(StoredType type, const float* in, std::size_t n, std::byte* out) {
  switch (type) {
  case StoredType::float32:
    std::memcpy(out, in, n * sizeof(float));
    return;
  case StoredType::int16:
    return store_chunk<std::int16_t>(in, n, out);
  case StoredType::uint8:
    return store_chunk<std::uint8_t>(in, n, out);
  case StoredType::int32:
    return store_chunk<std::int32_t>(in, n, out);
  }
}

std::vector<std::byte> make_header_bytes(const Volume& v, const NiftiWriteOptions& opt) {
  const Grid& g = v.grid();
  const std::int64_t dims[8] = {v.is_4d() ? 4 : 3, g.dims[0], g.dims[1], g.dims[2], v.volumes(), 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, nifti_datatype_of(opt.type), 0);
  if (!nim) throw Error("niftilib could not create a header");
  std::unique_ptr<nifti_image, decltype(&nifti_image_free)> guard(nim, &nifti_image_free);

  nim->dx = nim->pixdim[1] = g.spacing_mm[0];
  nim->dy = nim->pixdim[2] = g.spacing_mm[1];
  nim->dz = nim->pixdim[3] = g.spacing_mm[2];
  nim->dt = nim->pixdim[4] = v.is_4d() ? v.time_step_s() : 0.0;
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->time_units = NIFTI_UNITS_SEC;
  nifti_dmat44 m{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m.m[r][c] = g.affine[r][c];
  const int code = xform_code_from_space(g.space);
  nim->sform_code = code;
  nim->sto_xyz = m;
  nim->qform_code = code;
  nim->qto_xyz = m;
  double dx = 0, dy = 0, dz = 0, qfac = 0;
  nifti_dmat44_to_quatern(m, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x,
                          &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz, &qfac);
  nim->qfac = qfac;
  nim->scl_slope = 1.0;
  nim->scl_inter = 0.0;
  const std::string descrip = opt.description.empty() ? "rewardpath " + version() : opt.description;
  std::snprintf(nim->descrip, sizeof nim->descrip, "%s", descrip.c_str());
  std::snprintf(nim->intent_name, sizeof nim->intent_name, "%s", opt.intent_name.c_str());

  const bool needs_v2 = std::any_of(std::begin(dims) + 1, std::end(dims), [](std::int64_t d) {
    return d > std::numeric_limits<std::int16_t>::max();
  });
  std::vector<std::byte> bytes;
  if (!needs_v2) {
    nifti_1_header hdr;
    if (nifti_convert_nim2n1hdr(nim, &hdr) != 0) throw Error("niftilib could not encode a NIfTI-1 header");
    hdr.vox_offset = 352;
    std::memcpy(hdr.magic, "n+1\0", 4);
    bytes.resize(352, std::byte{0});
    std::memcpy(bytes.data(), &hdr, sizeof hdr);
  } else {
    nifti_2_header hdr;
    if (nifti_convert_nim2n2hdr(nim, &hdr) != 0) throw Error("niftilib could not encode a NIfTI-2 header");
    hdr.vox_offset = 544;
    std::memcpy(hdr.magic, "n+2\0\r\n\032\n", 8);
    bytes.resize(544, std::byte{0});
    std::memcpy(bytes.data(), &hdr, sizeof hdr);
  }
  return bytes; // the 4 bytes after the header (extension flag) stay zero: no extensions
}

} // namespace

void write_nifti(const fs::path& path, const Volume& v, const NiftiWriteOptions& opt) {
  with_context(path.string(), [&] {
    if (!is_nifti_path(path)) throw Error("output name must end in .nii or .nii.gz");
    if (v.size() == 0) throw Error("cannot write an empty image");
    const bool gz = ends_with(path.filename().string(), ".gz");
    const std::vector<std::byte> header = make_header_bytes(v, opt);
    const std::size_t bytes_per_voxel = static_cast<std::size_t>(datatype_size(nifti_datatype_of(opt.type)));

    AtomicFile out(path);
    if (!gz) {
      out.write(header.data(), header.size());
      if (opt.type == StoredType::float32) {
        out.write(v.data(), v.size() * sizeof(float));
      } else {
        constexpr std::size_t chunk = 1 << 20;
        std::vector<std::byte> buf(chunk * bytes_per_voxel);
        for (std::size_t i = 0; i < v.size(); i += chunk) {
          const std::size_t n = std::min(chunk, v.size() - i);
          encode(opt.type, v.data() + i, n, buf.data());
          out.write(buf.data(), n * bytes_per_voxel);
        }
      }
    } else {
      // pigz-style: independent gzip members compressed in parallel, written in order. Any gzip
      // reader (zlib, Python's gzip/nibabel, gzip -d) reads a multi-member stream as one file.
      const auto first = detail::gzip_member(header, opt.gzip_level);
      out.write(first.data(), first.size());
      const std::size_t chunk = detail::voxels_per_member(v.size());
      const std::size_t members = (v.size() + chunk - 1) / chunk;
      const std::size_t batch = 8;
      for (std::size_t b0 = 0; b0 < members; b0 += batch) {
        const std::size_t b1 = std::min(members, b0 + batch);
        std::vector<std::vector<std::byte>> compressed(b1 - b0);
        tbb::parallel_for(b0, b1, [&](std::size_t m) {
          const std::size_t begin = m * chunk;
          const std::size_t n = std::min(chunk, v.size() - begin);
          std::vector<std::byte> raw(n * bytes_per_voxel);
          encode(opt.type, v.data() + begin, n, raw.data());
          compressed[m - b0] = detail::gzip_member(raw, opt.gzip_level);
        });
        for (const auto& c : compressed) out.write(c.data(), c.size());
      }
    }
    out.commit();
  });
}

} // namespace rewardpath::io

// ---------------------------------------------------------------------------------------------
// Streaming volumes in time order

namespace rewardpath::io {

struct NiftiVolumeReader::Impl {
  NiftiHeader h;
  std::int64_t next = 0;
  std::size_t volume_bytes = 0;
  // Uncompressed: positional reads.
  int fd = -1;
  // Gzip: members inflated whole by libdeflate into `pend` while they fit kMember bytes, else
  // zlib streaming from then on. pend[p0, p1) is inflated but not yet consumed. Members with the
  // size subfield (our writer's) are inflated a batch at a time in parallel, one per thread.
  std::unique_ptr<detail::MappedFile> file;
  detail::MemberIndex index; // built at the first read (errors then name the file)
  bool indexed = false;
  std::size_t next_member = 0; // first indexed member not yet inflated
  std::size_t in_pos = 0;
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> dec{
      nullptr, libdeflate_free_decompressor};
  bool use_zlib = false, zlib_open = false;
  z_stream zs{};
  std::unique_ptr<std::byte[]> pend; // kMember bytes, allocated once, not zeroed
  std::size_t p0 = 0, p1 = 0;
  std::size_t skip = 0; // header bytes still to drop from the inflated stream

  static constexpr std::size_t kMember = std::size_t{32} << 20;
  static constexpr std::size_t kZlibChunk = std::size_t{4} << 20; // <= kMember

  ~Impl() {
    if (fd >= 0) ::close(fd);
    if (zlib_open) inflateEnd(&zs);
  }

  void ensure_pend() {
    if (!pend) pend.reset(new std::byte[kMember]);
  }

  bool refill() {
    p0 = p1 = 0;
    const auto in = file->bytes();
    if (!indexed) {
      index = detail::index_members(in);
      indexed = true;
    }
    const auto& ms = index.members;
    while (next_member < ms.size()) {
      if (ms[next_member].out_size > kMember) { // too large for pend: the sequential path from here
        in_pos = ms[next_member].in_begin;
        next_member = ms.size();
        break;
      }
      // As many members as there are threads (small ones, like the header's, not counted), within
      // pend: touching all of pend would cost RSS for no speed.
      const auto threads = static_cast<std::size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
      std::size_t last = next_member, total = 0, large = 0;
      while (last < ms.size() && large < threads && total + ms[last].out_size <= kMember) {
        large += ms[last].out_size >= (std::size_t{1} << 20);
        total += ms[last++].out_size;
      }
      ensure_pend();
      detail::inflate_members(in, index, next_member, last, pend.get());
      next_member = last;
      in_pos = last < ms.size() ? ms[last].in_begin : index.in_end;
      p1 = total;
      if (p1 > 0) return true;
    }
    if (use_zlib && zlib_open) {
      ensure_pend();
      zs.next_out = reinterpret_cast<Bytef*>(pend.get());
      zs.avail_out = static_cast<uInt>(kZlibChunk);
      while (zs.avail_out > 0) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_pos));
        zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - in_pos, 1u << 30));
        const auto before = zs.avail_in;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        in_pos += before - zs.avail_in;
        if (rc == Z_STREAM_END) {
          inflateEnd(&zs);
          zlib_open = false;
          break;
        }
        if (rc != Z_OK) throw Error("corrupt gzip data near compressed byte " + std::to_string(in_pos));
        if (before == 0 || (zs.avail_in == 0 && in_pos >= in.size())) break; // truncated: caller reports
      }
      p1 = kZlibChunk - zs.avail_out;
      return p1 > 0;
    }
    if (in_pos >= in.size()) return false;
    if (!detail::has_gzip_magic(in.subspan(in_pos))) {
      for (std::size_t i = in_pos; i < in.size(); ++i)
        if (in[i] != std::byte{0})
          throw Error("corrupt gzip data: no gzip member header at compressed byte " +
                      std::to_string(in_pos));
      return false; // zero padding after the last member
    }
    if (use_zlib) {
      zs = z_stream{};
      if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error("cannot initialise zlib");
      zlib_open = true;
      return refill();
    }
    ensure_pend();
    std::size_t used = 0, got = 0;
    const auto rc = libdeflate_gzip_decompress_ex(dec.get(), in.data() + in_pos, in.size() - in_pos,
                                                  pend.get(), kMember, &used, &got);
    if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) { // a large member: stream it (and the rest) with zlib
      use_zlib = true;
      return refill();
    }
    if (rc != LIBDEFLATE_SUCCESS)
      throw Error("corrupt or truncated gzip data in the member starting at compressed byte " +
                  std::to_string(in_pos));
    in_pos += used;
    p1 = got;
    return true;
  }

  void take(std::byte* dst, std::size_t n) {
    while (n > 0) {
      if (p0 == p1 && !refill())
        throw Error(fmt::format("file is truncated: the decompressed stream ends before volume {} of {}",
                                next + 1, h.volumes()));
      const std::size_t drop = std::min(skip, p1 - p0);
      p0 += drop;
      skip -= drop;
      const std::size_t c = std::min(n, p1 - p0);
      std::memcpy(dst, pend.get() + p0, c);
      p0 += c;
      dst += c;
      n -= c;
    }
  }
};

NiftiVolumeReader::NiftiVolumeReader(const NiftiHeader& header) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.h = header;
  m.volume_bytes = static_cast<std::size_t>(header.voxels_per_volume() * header.bytes_per_voxel);
  with_context(header.path.string(), [&] {
    bool compressed = false;
    if (header.gzipped) {
      m.file = std::make_unique<detail::MappedFile>(header.path);
      compressed = detail::has_gzip_magic(m.file->bytes());
    }
    if (compressed) {
      m.dec.reset(libdeflate_alloc_decompressor());
      if (!m.dec) throw Error("out of memory allocating a gzip decompressor");
      m.skip = static_cast<std::size_t>(header.vox_offset);
    } else {
      m.file.reset();
      m.fd = ::open(header.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (m.fd < 0) throw Error(std::string("cannot open: ") + std::strerror(errno));
      ::posix_fadvise(m.fd, header.vox_offset, static_cast<off_t>(header.data_bytes()),
                      POSIX_FADV_SEQUENTIAL);
    }
  });
}

NiftiVolumeReader::~NiftiVolumeReader() = default;

std::int64_t NiftiVolumeReader::next_volume() const { return impl_->next; }

void NiftiVolumeReader::read(std::int64_t count, std::span<float> out) {
  auto& m = *impl_;
  with_context(m.h.path.string(), [&] {
    const auto nv = static_cast<std::size_t>(m.h.voxels_per_volume());
    if (count < 0 || m.next + count > m.h.volumes())
      throw Error(fmt::format("cannot read volumes {}..{}: the image has {}", m.next, m.next + count - 1,
                              m.h.volumes()));
    if (out.size() < static_cast<std::size_t>(count) * nv)
      throw Error("output buffer too small for the volumes requested");
    const std::size_t n = static_cast<std::size_t>(count) * nv;
    const std::size_t bytes = static_cast<std::size_t>(count) * m.volume_bytes;
    // Narrow types are read into the float buffer and widened in place; 8-byte types need room.
    std::vector<std::byte> wide;
    std::byte* dst = reinterpret_cast<std::byte*>(out.data());
    if (m.h.bytes_per_voxel > 4) {
      wide.resize(bytes);
      dst = wide.data();
    }
    if (m.fd >= 0)
      read_exact_at(m.fd, dst, bytes, m.h.vox_offset + m.next * static_cast<std::int64_t>(m.volume_bytes));
    else
      m.take(dst, bytes);
    convert_to_float(m.h.datatype, dst, n, m.h.byte_swapped && m.h.bytes_per_voxel > 1);
    if (!wide.empty()) std::memcpy(out.data(), wide.data(), n * sizeof(float));
    if (scales(m.h))
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(static_cast<double>(out[i]) * m.h.scl_slope + m.h.scl_inter);
    m.next += count;
  });
}

} // namespace rewardpath::io
