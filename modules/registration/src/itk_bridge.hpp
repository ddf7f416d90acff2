#pragma once
// Volume <-> itk::Image and RAS <-> LPS, for the ITK translation units only (never include this
// from a unit that uses Eigen: ITK bundles its own Eigen under the same names).
#include <itkCommand.h>
#include <itkImage.h>
#include <itkMatrixOffsetTransformBase.h>
#include <itkPointSet.h>

#include <cmath>
#include <sstream>
#include <string>

#include "engine.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

namespace rewardpath::registration::detail {

using ImageType = itk::Image<float, 3>;
using PointSetType = itk::PointSet<float, 3>;

// ITK physical space is LPS: flip x and y of RAS.
inline itk::Point<double, 3> to_lps(const Point& p) {
  itk::Point<double, 3> q;
  q[0] = -p[0];
  q[1] = -p[1];
  q[2] = p[2];
  return q;
}

// F A F with F = diag(-1, -1, 1, 1): the same map expressed in the other convention (self-inverse).
inline Affine flip_xy(const Affine& a) {
  Affine r = a;
  const double s[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) r[i][j] = s[i] * a[i][j] * s[j];
  return r;
}

// Wraps the Volume's buffer (no copy; the Volume must outlive the image, and ITK only reads it).
inline ImageType::Pointer to_itk(const Volume& v) {
  auto img = ImageType::New();
  ImageType::RegionType region;
  ImageType::SizeType size;
  for (unsigned a = 0; a < 3; ++a) size[a] = static_cast<itk::SizeValueType>(v.grid().dims[a]);
  region.SetSize(size);
  img->SetRegions(region);
  Affine lps = v.grid().affine; // voxel -> LPS world: F A (rows x and y negated)
  for (int c = 0; c < 4; ++c) lps[0][c] = -lps[0][c], lps[1][c] = -lps[1][c];
  ImageType::SpacingType spacing;
  ImageType::PointType origin;
  ImageType::DirectionType dir;
  for (unsigned c = 0; c < 3; ++c) {
    const double s = std::sqrt(lps[0][c] * lps[0][c] + lps[1][c] * lps[1][c] + lps[2][c] * lps[2][c]);
    spacing[c] = s;
    for (unsigned r = 0; r < 3; ++r) dir[r][c] = lps[r][c] / s;
    origin[c] = lps[c][3];
  }
  img->SetSpacing(spacing);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  img->GetPixelContainer()->SetImportPointer(const_cast<float*>(v.data()),
                                             static_cast<itk::SizeValueType>(v.voxels_per_volume()), false);
  return img;
}

inline PointSetType::Pointer to_point_set(const std::vector<Point>& points) {
  auto ps = PointSetType::New();
  auto container = PointSetType::PointsContainer::New();
  container->Reserve(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) container->SetElement(i, to_lps(points[i]));
  ps->SetPoints(container);
  return ps;
}

// x -> M x + offset of an ITK matrix-offset transform (LPS), as our RAS affine.
template <class T> Affine affine_of(const T& t) {
  Affine lps = identity_affine();
  const auto& m = t.GetMatrix();
  const auto& o = t.GetOffset();
  for (unsigned r = 0; r < 3; ++r) {
    for (unsigned c = 0; c < 3; ++c) lps[r][c] = m[r][c];
    lps[r][3] = o[r];
  }
  return flip_xy(lps);
}

// Sets a centred matrix-offset transform (LPS) to the RAS affine `a`, about `centre` (RAS).
template <class T> void set_affine(T& t, const Affine& a, const Point& centre) {
  const Affine lps = flip_xy(a);
  typename T::MatrixType m;
  typename T::OutputVectorType offset;
  for (unsigned r = 0; r < 3; ++r) {
    for (unsigned c = 0; c < 3; ++c) m[r][c] = lps[r][c];
    offset[r] = lps[r][3];
  }
  t.SetCenter(to_lps(centre));
  t.SetMatrix(m);
  t.SetOffset(offset);
}

// Records the optimizer's metric value at each iteration.
template <class Optimizer> class TraceObserver : public itk::Command {
public:
  using Self = TraceObserver;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);
  Trace* trace = nullptr;
  void Execute(itk::Object* caller, const itk::EventObject& event) override {
    Execute(static_cast<const itk::Object*>(caller), event);
  }
  void Execute(const itk::Object* caller, const itk::EventObject& event) override {
    if (!itk::IterationEvent().CheckEvent(&event) || trace == nullptr) return;
    const auto* opt = static_cast<const Optimizer*>(caller);
    trace->values.push_back(opt->GetCurrentMetricValue());
    ++trace->iterations;
  }
};

inline Error itk_error(const itk::ExceptionObject& e, const std::string& what) {
  std::string d = e.GetDescription();
  while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
  if (d.find("outside") != std::string::npos)
    return Error(what + ": the moving image left the fixed image's field of view (" + d +
                 "); the optimizer diverged — try a smaller step_mm or check the initial overlap");
  return Error(what + ": ITK error: " + d);
}

} // namespace rewardpath::registration::detail
