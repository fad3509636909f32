// The meters around a child command (`joulecast track`, the search's external trainer), set up
// from the command's --meter and --cpu-watts and from the environment: CUDA_VISIBLE_DEVICES,
// and for tests and unusual installs JOULECAST_POWERCAP_ROOT and JOULECAST_NVML_LIBRARY.
#pragma once

#include "analyzer/search/external_trainer.h"
#include "calibrate/meters/child_meter.h"

namespace joulecast::cli {

/// `meter` (kind, --cpu-watts) with the environment's settings.
ChildMeterOptions ChildMeterOptionsFromEnvironment(const MeterOptions& meter);

/// For ExternalTrainer::MeasureWith: opens the meters `options` select for each trial.
search::ExternalTrainer::OpenChildMeter ChildMeterOpener(ChildMeterOptions options);

}  // namespace joulecast::cli
