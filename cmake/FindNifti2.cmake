# Debian's NIFTIConfig.cmake points at a libznz path that does not exist, and there is no
# pkg-config file, so we find niftilib ourselves.
#
# niftilib is linked statically with its symbols hidden (--exclude-libs): ITK carries its own
# NIfTI code with the same unmangled symbol names, and a shared libnifti2 would be picked up by
# ITK's reader at run time (shared/notes/toolchain.md).
find_path(NIFTI2_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti)
find_library(NIFTI2_STATIC_LIBRARY NAMES libnifti2.a)
find_library(ZNZ_STATIC_LIBRARY NAMES libznz.a)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Nifti2 REQUIRED_VARS NIFTI2_INCLUDE_DIR NIFTI2_STATIC_LIBRARY ZNZ_STATIC_LIBRARY)
if(Nifti2_FOUND AND NOT TARGET Nifti2::nifti2)
  find_package(ZLIB REQUIRED)
  add_library(Nifti2::nifti2 INTERFACE IMPORTED)
  set_target_properties(Nifti2::nifti2 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${NIFTI2_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "HAVE_ZLIB"
    INTERFACE_LINK_LIBRARIES "${NIFTI2_STATIC_LIBRARY};${ZNZ_STATIC_LIBRARY};ZLIB::ZLIB;m"
    INTERFACE_LINK_OPTIONS "LINKER:--exclude-libs,libnifti2.a:libznz.a")
endif()
