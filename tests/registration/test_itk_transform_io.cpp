// Interoperability of our transform files: ITK's own TransformFileReader (what ANTs uses) reads
// the .txt we write and maps points as we do; the displacement field file has the layout ITK and
// ANTs expect (checked with nibabel, so that no ITK image IO enters a rewardpath binary).
#include <gtest/gtest.h>
#include <unistd.h>

#include <itkAffineTransform.h>
#include <itkTransformFactoryBase.h>
#include <itkTransformFileReader.h>
#include <itkTxtTransformIOFactory.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "reg_cases.hpp"

using namespace rp_reg_test;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("rp_reg_itkio_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
} // namespace

TEST(TransformFile, ItkTransformFileReaderReadsOurAffine) {
  const fs::path dir = temp_dir("affine");
  reg::Transform t;
  t.matrix = pose_affine({12, -8, 5, 10, -20, 7, 1.1, 0.95, 1.02, 0.04});
  // a nonlinear transform's .txt (with its comment line naming the field) must still parse in ITK
  t.displacement = bump_field(centred_grid({20, 24, 20}, 8.0, {0, -18, 18}, "A"), 3.0);
  const fs::path path = dir / "sub-01_from-A_to-B_mode-image_xfm.txt";
  reg::write_transform(path, t);

  itk::TxtTransformIOFactory::RegisterOneFactory();
  itk::TransformFactoryBase::RegisterDefaultTransforms();
  auto reader = itk::TransformFileReaderTemplate<double>::New();
  reader->SetFileName(path.string());
  ASSERT_NO_THROW(reader->Update());
  const auto* list = reader->GetTransformList();
  ASSERT_EQ(list->size(), 1u);
  const auto* affine = dynamic_cast<const itk::AffineTransform<double, 3>*>(list->front().GetPointer());
  ASSERT_NE(affine, nullptr) << list->front()->GetNameOfClass();
  reg::Transform lin = t;
  lin.displacement.reset();
  for (const Point& p : {Point{0, 0, 0}, Point{30, -50, 20}, Point{-60, 15, 70}}) {
    itk::Point<double, 3> x;
    x[0] = -p[0];
    x[1] = -p[1];
    x[2] = p[2];
    const auto y = affine->TransformPoint(x);
    const Point q = lin.apply(p);
    EXPECT_NEAR(-y[0], q[0], 1e-9);
    EXPECT_NEAR(-y[1], q[1], 1e-9);
    EXPECT_NEAR(y[2], q[2], 1e-9);
  }

  // The field: 5D float32 vector image (x,y,z,1,3), intent VECTOR, LPS displacements, sform = grid.
  const fs::path field = dir / "sub-01_from-A_to-B_mode-image_xfm_field.nii.gz";
  ASSERT_TRUE(fs::exists(field));
  const fs::path script = dir / "check.py";
  {
    FILE* f = std::fopen(script.c_str(), "w");
    std::fputs("import sys, nibabel as nb, numpy as np\n"
               "img = nb.load(sys.argv[1]); h = img.header\n"
               "assert img.shape == (20, 24, 20, 1, 3), img.shape\n"
               "assert int(h['intent_code']) == 1007, h['intent_code']\n"
               "assert h.get_data_dtype() == np.float32\n"
               "a = img.affine\n"
               "assert np.allclose(np.diag(a)[:3], 8.0), a\n"
               "d = np.asarray(img.dataobj)[:, :, :, 0, :]\n"
               "print(float(d[10, 12, 10, 0]), float(d[10, 12, 10, 1]), float(d[10, 12, 10, 2]))\n",
               f);
    std::fclose(f);
  }
  const std::string cmd = std::string(RP_SYSTEM_PYTHON) + " " + script.string() + " " + field.string() +
                          " > " + (dir / "out.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "nibabel check failed, see " << (dir / "out.txt");
  double dx = 0, dy = 0, dz = 0;
  FILE* out = std::fopen((dir / "out.txt").c_str(), "r");
  ASSERT_EQ(std::fscanf(out, "%lf %lf %lf", &dx, &dy, &dz), 3);
  std::fclose(out);
  const Volume& d = *t.displacement;
  const auto n = static_cast<std::size_t>(d.voxels_per_volume());
  const std::size_t at = d.index(10, 12, 10);
  EXPECT_NEAR(dx, -d.data()[at], 1e-6); // LPS
  EXPECT_NEAR(dy, -d.data()[n + at], 1e-6);
  EXPECT_NEAR(dz, d.data()[2 * n + at], 1e-6);
  fs::remove_all(dir);
}
