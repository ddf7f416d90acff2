// The one ITK registration translation unit: rigid (Euler3D) and affine stages, Mattes MI on our
// sample points, scales from physical shifts, a regular-step gradient descent measured in mm, one
// ImageRegistrationMethodv4 run per stage and level (pyramid and samples come from register.cpp).
#include <itkAffineTransform.h>
#include <itkEuler3DTransform.h>
#include <itkMultiThreaderBase.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkRegistrationParameterScalesFromPhysicalShift.h>
#include <itkGradientDescentOptimizerv4.h>

#include <cmath>
#include <limits>

#include "itk_bridge.hpp"
#include "rewardpath/core/log.hpp"

namespace rewardpath::registration::detail {

namespace {

// Regular-step gradient descent whose step is a physical shift. ITK's RegularStepGradientDescent-
// Optimizerv4 scales the gradient by the parameter scales (from physical shifts) but normalises the
// step by the length of that scaled gradient in parameter units; when rotations dominate the
// gradient (close to the optimum) a "0.5" step then moves voxels by up to ~150 x 0.5 mm and the
// optimizer stalls (measured: rigid stage stuck 0.5 mm off). Here the step direction is the same,
// g_i / s_i, but its length is measured physically, sqrt(sum g_i^2 / s_i) (scales s_i are squared
// voxel shifts per unit parameter), so every step moves voxels by about the current step length
// in mm. The step halves whenever the gradient direction reverses (as in RSGD). The best position
// seen is kept (ITK 5.2's ReturnBestParametersAndValue stores the position after the step).
class PhysicalStepOptimizer : public itk::GradientDescentOptimizerv4Template<double> {
public:
  using Self = PhysicalStepOptimizer;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self);

  double step_mm = 1.0;      // initial step (mm of voxel shift)
  double min_step_mm = 1e-3; // stop below this
  ParametersType best_position;
  double best_value = std::numeric_limits<double>::max();
  std::string stop_reason = "maximum number of iterations";

  void StartOptimization(bool only_initialize = false) override {
    relaxation_ = 1.0;
    raw_previous_.SetSize(0);
    best_value = std::numeric_limits<double>::max();
    best_position.SetSize(0);
    this->SetNumberOfIterations(this->GetNumberOfIterations());
    Superclass::StartOptimization(true);
    this->m_UseConvergenceMonitoring = false;
    if (!only_initialize) this->ResumeOptimization();
  }

protected:
  void AdvanceOneStep() override {
    const ScalesType& scales = this->GetScales();
    const auto n = this->m_Gradient.Size();
    if (scales.size() != n) itkExceptionMacro(<< "scales/gradient size mismatch");
    if (this->m_CurrentMetricValue < best_value) {
      best_value = this->m_CurrentMetricValue;
      best_position = this->GetCurrentPosition();
    }
    double phys2 = 0, dot = 0;
    for (unsigned i = 0; i < n; ++i) {
      phys2 += this->m_Gradient[i] * this->m_Gradient[i] / scales[i];
      if (raw_previous_.Size() == n) dot += this->m_Gradient[i] * raw_previous_[i] / scales[i];
    }
    raw_previous_ = this->m_Gradient;
    const double phys = std::sqrt(phys2);
    if (!std::isfinite(phys) || phys <= 0) {
      stop_reason = "zero or non-finite gradient";
      this->StopOptimization();
      return;
    }
    if (dot < 0) relaxation_ *= 0.5;
    const double step = relaxation_ * step_mm;
    if (step < min_step_mm) {
      stop_reason = "step below the minimum";
      this->StopOptimization();
      return;
    }
    for (unsigned i = 0; i < n; ++i) this->m_Gradient[i] /= scales[i];
    this->m_Metric->UpdateTransformParameters(this->m_Gradient, step / phys);
    this->InvokeEvent(itk::IterationEvent());
  }

private:
  double relaxation_ = 1.0;
  DerivativeType raw_previous_;
};

using MetricType = itk::MattesMutualInformationImageToImageMetricv4<ImageType, ImageType>;
using OptimizerType = PhysicalStepOptimizer;
using RigidType = itk::Euler3DTransform<double>;
using AffineType = itk::AffineTransform<double, 3>;

// ITK's metric threaders take their number of work units from the global default when they are
// constructed (SetMaximumNumberOfWorkUnits only caps the threads), and Mattes adds the work units'
// derivative buffers in the order they finish. With one work unit the result is bit-for-bit
// reproducible. The setting is process-wide; every registration sets it from its own params, so
// concurrent registrations should use the same `threads` (the pipeline uses 1).
void set_itk_threads(const Params& params) {
  const auto n = static_cast<itk::ThreadIdType>(std::max(1, params.threads));
  if (itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads() != n)
    itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(n);
}

MetricType::Pointer make_metric(const Params& params, const PointSetType* samples) {
  set_itk_threads(params);
  auto metric = MetricType::New();
  metric->SetNumberOfHistogramBins(static_cast<itk::SizeValueType>(params.histogram_bins));
  metric->SetUseMovingImageGradientFilter(false); // central differences at the samples only
  metric->SetUseFixedImageGradientFilter(false);
  metric->SetMaximumNumberOfWorkUnits(static_cast<itk::ThreadIdType>(std::max(1, params.threads)));
  metric->SetFixedSampledPointSet(samples);
  metric->SetUseSampledPointSet(true);
  return metric;
}

template <class TransformType>
void run_one(const EngineLevel& level, TransformType& transform, const LinearRun& run, const Params& params,
             Trace& trace) {
  using RegistrationType = itk::ImageRegistrationMethodv4<ImageType, ImageType, TransformType>;
  const auto fixed = to_itk(level.fixed);
  const auto moving = to_itk(level.moving);
  const auto samples = to_point_set(level.samples);
  const auto threads = static_cast<itk::ThreadIdType>(std::max(1, params.threads));

  auto metric = make_metric(params, samples);
  auto scales = itk::RegistrationParameterScalesFromPhysicalShift<MetricType>::New();
  scales->SetMetric(metric);
  scales->SetTransformForward(true);
  auto optimizer = OptimizerType::New();
  optimizer->SetScalesEstimator(scales);
  optimizer->SetDoEstimateLearningRateOnce(false);
  optimizer->SetDoEstimateLearningRateAtEachIteration(false);
  optimizer->step_mm = run.step_mm;
  optimizer->min_step_mm = params.min_step_mm;
  optimizer->SetNumberOfIterations(static_cast<itk::SizeValueType>(std::max(1, run.iterations)));
  optimizer->SetNumberOfWorkUnits(threads);
  auto observer = TraceObserver<OptimizerType>::New();
  observer->trace = &trace;
  optimizer->AddObserver(itk::IterationEvent(), observer);

  auto reg = RegistrationType::New();
  reg->SetFixedImage(fixed);
  reg->SetMovingImage(moving);
  reg->SetMetric(metric);
  reg->SetOptimizer(optimizer);
  reg->SetNumberOfWorkUnits(threads);
  reg->SetInitialTransform(&transform);
  reg->InPlaceOn();
  reg->InitializeCenterOfLinearOutputTransformOff(); // keep our centre (the fixed centre of mass)
  reg->SetNumberOfLevels(1);
  typename RegistrationType::ShrinkFactorsArrayType shrink(1);
  shrink[0] = 1;
  reg->SetShrinkFactorsPerLevel(shrink);
  typename RegistrationType::SmoothingSigmasArrayType sigma(1);
  sigma[0] = 0;
  reg->SetSmoothingSigmasPerLevel(sigma);
  reg->SetMetricSamplingStrategy(RegistrationType::MetricSamplingStrategyEnum::NONE);
  trace.start_run();
  reg->Update();
  if (optimizer->best_position.Size() == transform.GetNumberOfParameters())
    transform.SetParameters(optimizer->best_position);
  std::ostringstream sc;
  sc << optimizer->GetScales();
  spdlog::debug("{} level {}: {} ({} iterations), scales {}", run.stage == Stage::rigid ? "rigid" : "affine",
                run.level, optimizer->stop_reason, optimizer->GetCurrentIteration(), sc.str());
}

} // namespace

Affine run_linear(const std::vector<EngineLevel>& levels, const std::vector<LinearRun>& runs,
                  const Affine& initial, const Point& centre, const Params& params, Trace& trace) {
  set_itk_threads(params);
  auto rigid = RigidType::New();
  auto affine = AffineType::New();
  set_affine(*rigid, initial, centre);
  bool in_affine = false;
  try {
    for (const auto& run : runs) {
      const EngineLevel& level = levels.at(run.level);
      if (run.stage == Stage::rigid) {
        if (in_affine) throw Error("internal: rigid stage after the affine stage");
        run_one(level, *rigid, run, params, trace);
      } else {
        if (!in_affine) {
          set_affine(*affine, affine_of(*rigid), centre);
          in_affine = true;
        }
        run_one(level, *affine, run, params, trace);
      }
    }
  } catch (const itk::ExceptionObject& e) {
    throw itk_error(e, "linear registration");
  }
  const Affine result = in_affine ? affine_of(*affine) : affine_of(*rigid);
  for (const auto& row : result)
    for (double x : row)
      if (!std::isfinite(x))
        throw Error("linear registration: the optimizer diverged (non-finite transform)");
  return result;
}

double evaluate_metric(const EngineLevel& level, const Affine& fixed_to_moving, const Params& params) {
  try {
    const auto fixed = to_itk(level.fixed);
    const auto moving = to_itk(level.moving);
    const auto samples = to_point_set(level.samples);
    auto transform = AffineType::New();
    set_affine(*transform, fixed_to_moving, {0, 0, 0});
    auto metric = make_metric(params, samples);
    metric->SetFixedImage(fixed);
    metric->SetMovingImage(moving);
    metric->SetMovingTransform(transform);
    metric->SetVirtualDomainFromImage(fixed);
    metric->Initialize();
    return metric->GetValue();
  } catch (const itk::ExceptionObject& e) {
    throw itk_error(e, "metric evaluation");
  }
}

} // namespace rewardpath::registration::detail
