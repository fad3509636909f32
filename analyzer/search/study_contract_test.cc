// The study storage contract (study_storage.h), one suite run against both implementations: an
// SQLite file and a PostgreSQL database. The PostgreSQL server is the tests' throwaway one
// (tests/postgres_server.sh, a ctest fixture): its URL comes in JOULECAST_TEST_POSTGRES_URL, or
// in the file JOULECAST_TEST_POSTGRES_URL_FILE names; without either the PostgreSQL cases fail.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "analyzer/search/study_storage.h"
#include "analyzer/search/study_test_util.h"
#include "common/testing/test_util.h"

namespace joulecast::search {
namespace {

namespace fs = std::filesystem;
using joulecast::testing::ReadFile;
using joulecast::testing::TempDir;

std::string PostgresUrl() {
  if (const char* url = std::getenv("JOULECAST_TEST_POSTGRES_URL"); url && *url) return url;
  if (const char* file = std::getenv("JOULECAST_TEST_POSTGRES_URL_FILE"); file && *file) {
    std::string url = ReadFile(file);
    while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
    return url;
  }
  return "";
}

using testing::Counting;
using testing::Key;
using testing::MustNotPropose;
using testing::Ok;

// Each test gets a location of its own kind and study names no other test (or run) uses.
class StudyContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      location_ = PostgresUrl();
      ASSERT_FALSE(location_.empty())
          << "no PostgreSQL server for the tests: set JOULECAST_TEST_POSTGRES_URL or run through "
             "ctest (tests/postgres_server.sh starts one)";
    } else {
      location_ = (dir_ / "study.db").string();
    }
    // The test's name, hashed to stay short, the process and the time.
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    prefix_ =
        "t" + std::to_string(std::hash<std::string>{}(test) % 1000000) + "-" +
        std::to_string(getpid()) + "-" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000);
  }

  std::string Name(const std::string& suffix = "a") const { return prefix_ + "-" + suffix; }

  StudyOptions Options(double lease_s = 3600, const std::string& suffix = "a") const {
    StudyOptions o;
    o.name = Name(suffix);
    o.lease_s = lease_s;
    return o;
  }

  std::unique_ptr<StudyStorage> OpenOk(double lease_s = 3600, const std::string& suffix = "a",
                                       const StudyKey& key = Key()) const {
    Result<std::unique_ptr<StudyStorage>> s = OpenStudy(location_, key, Options(lease_s, suffix));
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : nullptr;
  }

  TempDir dir_;
  std::string location_, prefix_;
};

TEST_P(StudyContract, RecordsTrialsAndResumesWithMoreTrials) {
  {
    auto study = OpenOk();
    ASSERT_TRUE(study);
    for (int i = 0; i < 3; ++i) {
      Result<Claim> c = study->ClaimNext(3, Counting());
      ASSERT_TRUE(c.ok()) << c.status().message();
      ASSERT_EQ(c->kind, Claim::Kind::trial);
      EXPECT_EQ(c->trial.number, i);
      EXPECT_EQ(c->trial.runs, 1);
      EXPECT_FALSE(c->rerun);
      TrialOutcome o = i == 1 ? TrialOutcome{} : Ok(0.5 + 0.1 * i, 100 * i);
      if (i == 1) o.error = "the trainer exited with status 1";
      ASSERT_TRUE(study->Finish(i, o).ok());
    }
    Result<Claim> full = study->ClaimNext(3, MustNotPropose());
    ASSERT_TRUE(full.ok()) << full.status().message();
    EXPECT_EQ(full->kind, Claim::Kind::full);
    EXPECT_EQ(full->running, 0);
  }
  auto study = OpenOk();
  ASSERT_TRUE(study);
  Result<std::vector<StudyTrial>> trials = study->Load();
  ASSERT_TRUE(trials.ok()) << trials.status().message();
  ASSERT_EQ(trials->size(), 3u);
  EXPECT_EQ((*trials)[0].status, "done");
  EXPECT_EQ((*trials)[0].params_json, "{\"x\": 0}");
  EXPECT_DOUBLE_EQ(*(*trials)[2].accuracy, 0.7);
  EXPECT_DOUBLE_EQ(*(*trials)[2].energy_j, 200);
  EXPECT_DOUBLE_EQ(*(*trials)[2].predicted_energy_j, 12);
  EXPECT_DOUBLE_EQ(*(*trials)[2].predicted_high_j, 15);
  EXPECT_EQ((*trials)[2].meter, "fake");
  EXPECT_EQ((*trials)[2].worker, study->worker());
  EXPECT_EQ((*trials)[2].started_at.size(), 20u) << (*trials)[2].started_at;
  EXPECT_FALSE((*trials)[2].finished_at.empty());
  EXPECT_EQ((*trials)[1].status, "failed");
  EXPECT_FALSE((*trials)[1].accuracy.has_value());
  EXPECT_EQ((*trials)[1].error, "the trainer exited with status 1");
  Result<Claim> c = study->ClaimNext(5, Counting());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->trial.number, 3);
}

TEST_P(StudyContract, OtherOptionsAreAnErrorNamingTheFlag) {
  ASSERT_TRUE(OpenOk(3600, "a", Key("bo")));
  Result<std::unique_ptr<StudyStorage>> s = OpenStudy(location_, Key("random"), Options());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(
                "this study was made with --strategy bo, not --strategy random: run with the "
                "same options to resume it, or give another --study"),
            std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("(study " + Name() + ")"), std::string::npos);
  EXPECT_EQ(s.status().message().find('\n'), std::string::npos);
}

TEST_P(StudyContract, StudiesOfOneLocationAreKeptApartByName) {
  auto a = OpenOk(3600, "a", Key("bo"));
  auto b = OpenOk(3600, "b", Key("random"));  // other options: another study, no error
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->ClaimNext(5, Counting()).ok());
  ASSERT_TRUE(a->ClaimNext(5, Counting()).ok());
  Result<Claim> c = b->ClaimNext(5, Counting());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->trial.number, 0);
  EXPECT_EQ(a->Load()->size(), 2u);
  EXPECT_EQ(b->Load()->size(), 1u);
  Result<std::unique_ptr<StudyStorage>> missing = OpenStudyReadOnly(location_, Name("c"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no study named " + Name("c")), std::string::npos)
      << missing.status().message();
  Result<std::unique_ptr<StudyStorage>> read = OpenStudyReadOnly(location_, Name("b"));
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ((*read)->key().options[0].second, "random");
  EXPECT_EQ((*read)->Load()->size(), 1u);
}

// A lease not renewed runs out: the next claim takes the trial over under its number as attempt
// 2, and the first holder's late result, heartbeat and release are refused.
TEST_P(StudyContract, ExpiredLeaseIsTakenOverAndTheLateResultRefused) {
  auto a = OpenOk();
  ASSERT_TRUE(a->ClaimNext(2, Counting()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto b = OpenOk(/*lease_s=*/0.2);
  Result<Claim> c = b->ClaimNext(2, MustNotPropose());
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->kind, Claim::Kind::trial);
  EXPECT_TRUE(c->rerun);
  EXPECT_EQ(c->trial.number, 0);
  EXPECT_EQ(c->trial.runs, 2);
  EXPECT_EQ(c->trial.params_json, "{\"x\": 0}");
  EXPECT_FALSE(a->Heartbeat(0).ok());
  Status late = a->Finish(0, Ok(0.6, 2));
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.message().find("taken over"), std::string::npos) << late.message();
  ASSERT_TRUE(a->Release(0).ok());  // the lease is not a's any more: nothing changes
  EXPECT_TRUE(b->Heartbeat(0).ok());
  ASSERT_TRUE(b->Finish(0, Ok(0.5, 1)).ok());
  const StudyTrial t = b->Load()->at(0);
  EXPECT_EQ(t.status, "done");
  EXPECT_DOUBLE_EQ(*t.accuracy, 0.5);
  EXPECT_EQ(t.runs, 2);
}

// Heartbeats keep a lease alive past its length: another worker proposes a new trial instead.
TEST_P(StudyContract, HeartbeatKeepsTheLease) {
  auto a = OpenOk(0.5), b = OpenOk(0.5);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->ClaimNext(3, Counting()).ok());
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(a->Heartbeat(0).ok());
  }
  Result<Claim> c = b->ClaimNext(3, Counting());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->rerun);
  EXPECT_EQ(c->trial.number, 1);
  EXPECT_TRUE(a->Finish(0, Ok(0.5, 1)).ok());
}

TEST_P(StudyContract, ReleasedTrialIsRerunUnderItsNumber) {
  auto study = OpenOk();
  ASSERT_TRUE(study->ClaimNext(3, Counting()).ok());
  ASSERT_TRUE(study->Release(0).ok());
  EXPECT_FALSE(study->Finish(0, Ok(0.5, 1)).ok());  // no longer this worker's
  Result<Claim> c = study->ClaimNext(3, MustNotPropose());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->rerun);
  EXPECT_EQ(c->trial.number, 0);
  EXPECT_EQ(c->trial.runs, 2);
  EXPECT_TRUE(study->Finish(0, Ok(0.5, 1)).ok());
}

TEST_P(StudyContract, FullStudyCountsTrialsStillRunning) {
  auto a = OpenOk(), b = OpenOk();
  ASSERT_TRUE(a->ClaimNext(2, Counting()).ok());
  ASSERT_TRUE(a->ClaimNext(2, Counting()).ok());
  ASSERT_TRUE(a->Finish(1, Ok(0.5, 1)).ok());
  Result<Claim> c = b->ClaimNext(2, MustNotPropose());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kind, Claim::Kind::full);
  EXPECT_EQ(c->running, 1);
}

TEST_P(StudyContract, ProposerErrorAndExhaustionWriteNothing) {
  auto study = OpenOk();
  Result<Claim> c = study->ClaimNext(
      3, [](const std::vector<StudyTrial>&, int) -> Result<std::optional<Proposal>> {
        return Status::Error("no good");
      });
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "no good");
  c = study->ClaimNext(3, [](const std::vector<StudyTrial>&, int) {
    return Result<std::optional<Proposal>>(std::optional<Proposal>());
  });
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kind, Claim::Kind::exhausted);
  EXPECT_TRUE(study->Load()->empty());
  EXPECT_TRUE(study->ClaimNext(3, Counting()).ok());  // the connection is usable after both
}

// Four processes on one study: every number once, no gaps, each proposal made from the whole
// history (Counting fails otherwise), each trial run once.
TEST_P(StudyContract, WorkerProcessesClaimDistinctNumbers) {
  ASSERT_TRUE(OpenOk());  // created before the workers start
  constexpr int kTrials = 24, kWorkers = 4;
  std::vector<pid_t> workers;
  for (int w = 0; w < kWorkers; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto r = OpenStudy(location_, Key(), Options());
      if (!r.ok()) _exit(1);
      for (;;) {
        Result<Claim> c = (*r)->ClaimNext(kTrials, Counting());
        if (!c.ok()) _exit(2);
        if (c->kind != Claim::Kind::trial) break;
        usleep(5000);
        if (!(*r)->Finish(c->trial.number, Ok(0.5, 1)).ok()) _exit(3);
      }
      _exit(0);
    }
    workers.push_back(pid);
  }
  for (pid_t pid : workers) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "worker died";
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto study = OpenOk();
  Result<std::vector<StudyTrial>> trials = study->Load();
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), static_cast<size_t>(kTrials));
  std::set<int> numbers;
  std::set<std::string> worker_ids;
  for (const StudyTrial& t : *trials) {
    numbers.insert(t.number);
    worker_ids.insert(t.worker);
    EXPECT_EQ(t.status, "done");
    EXPECT_EQ(t.runs, 1);
  }
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(*numbers.rbegin(), kTrials - 1);
  EXPECT_GE(worker_ids.size(), 2u) << "several workers should have run trials";
}

// A heartbeat from another thread while the loop's thread claims and finishes: one connection,
// serialised.
TEST_P(StudyContract, HeartbeatFromAnotherThread) {
  auto study = OpenOk(0.6);
  ASSERT_TRUE(study->ClaimNext(20, Counting()).ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread beat([&] {
    while (!done) {
      if (!study->Heartbeat(0).ok()) ++failures;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (int i = 1; i < 15; ++i) {
    Result<Claim> c = study->ClaimNext(20, Counting());
    ASSERT_TRUE(c.ok()) << c.status().message();
    ASSERT_TRUE(study->Finish(c->trial.number, Ok(0.5, 1)).ok());
  }
  done = true;
  beat.join();
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(study->Finish(0, Ok(0.5, 1)).ok());
}

// A copy holds the same trials; running ones arrive released; a target study with trials is
// never overwritten.
TEST_P(StudyContract, ImportCopiesAWholeStudyOrNothing) {
  auto from = OpenOk();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(from->ClaimNext(3, Counting()).ok());
  ASSERT_TRUE(from->Finish(0, Ok(0.8, 10)).ok());
  TrialOutcome failed;
  failed.error = "out of memory";
  ASSERT_TRUE(from->Finish(2, failed).ok());
  const std::vector<StudyTrial> trials = *from->Load();
  ASSERT_TRUE(ImportStudy(location_, Name("copy"), from->key(), trials).ok());
  Status again = ImportStudy(location_, Name("copy"), from->key(), trials);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already holds a study with 3 trials"), std::string::npos)
      << again.message();

  auto copy = OpenOk(3600, "copy");
  ASSERT_TRUE(copy);
  const std::vector<StudyTrial> copied = *copy->Load();
  ASSERT_EQ(copied.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(copied[i].number, trials[i].number);
    EXPECT_EQ(copied[i].params_json, trials[i].params_json);
    EXPECT_EQ(copied[i].status, trials[i].status);
    EXPECT_EQ(copied[i].accuracy, trials[i].accuracy);
    EXPECT_EQ(copied[i].predicted_energy_j, trials[i].predicted_energy_j);
    EXPECT_EQ(copied[i].error, trials[i].error);
    EXPECT_EQ(copied[i].started_at, trials[i].started_at);
    EXPECT_EQ(copied[i].runs, trials[i].runs);
  }
  Result<Claim> c = copy->ClaimNext(3, MustNotPropose());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->rerun);
  EXPECT_EQ(c->trial.number, 1);
  EXPECT_EQ(c->trial.runs, 2);
}

INSTANTIATE_TEST_SUITE_P(Storage, StudyContract, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace joulecast::search
