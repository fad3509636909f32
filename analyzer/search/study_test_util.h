// What the study tests share: a study key, proposers and a finished trial's outcome.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "analyzer/search/study_storage.h"

namespace joulecast::search::testing {

/// A study of one real parameter "x" with `strategy` and seed 1.
inline StudyKey Key(const std::string& strategy = "bo") {
  StudyKey k;
  k.space = R"({"parameters":{"x":{"type":"float"}}})";
  k.space_source = "space.json";
  k.options = {{"strategy", strategy}, {"seed", "1"}};
  return k;
}

/// Proposes {"x": number}, failing unless it sees every trial so far; counts its calls in
/// `calls` when given.
inline Proposer Counting(int* calls = nullptr) {
  return [calls](const std::vector<StudyTrial>& trials,
                 int number) -> Result<std::optional<Proposal>> {
    if (calls) ++*calls;
    if (static_cast<int>(trials.size()) != number) {
      return Status::Error("history has " + std::to_string(trials.size()) + " trials at number " +
                           std::to_string(number));
    }
    Proposal p;
    p.params_json = "{\"x\": " + std::to_string(number) + "}";
    p.prediction = Prediction{10.0 + number, 9.0, 11.0 + 2 * number};
    return std::optional<Proposal>(p);
  };
}

/// A proposer a test does not expect to be asked: asking fails the test.
inline Proposer MustNotPropose() {
  return [](const std::vector<StudyTrial>&, int) -> Result<std::optional<Proposal>> {
    ADD_FAILURE() << "a proposal was asked for";
    return std::optional<Proposal>();
  };
}

/// A finished trial's outcome, measured by a "fake" meter in 0.5 s.
inline TrialOutcome Ok(double accuracy, double energy_j) {
  TrialOutcome o;
  o.ok = true;
  o.accuracy = accuracy;
  o.energy_j = energy_j;
  o.meter = "fake";
  o.time_s = 0.5;
  return o;
}

}  // namespace joulecast::search::testing
