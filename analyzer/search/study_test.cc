// What only the SQLite study does (the contract both storages keep is study_contract_test.cc):
// a file that is not a study, a space mismatch, stale trials of dead or live workers on this
// host, the lease, and opening read-only.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "analyzer/search/sqlite_study.h"
#include "analyzer/search/study_test_util.h"
#include "common/testing/test_util.h"

namespace joulecast::search {
namespace {

namespace fs = std::filesystem;
using joulecast::testing::TempDir;

using testing::Counting;
using testing::Key;
using testing::MustNotPropose;
using testing::Ok;

StudyOptions Lease(double lease_s = 3600, const std::string& name = kDefaultStudyName) {
  StudyOptions o;
  o.lease_s = lease_s;
  o.name = name;
  return o;
}

std::unique_ptr<SqliteStudy> OpenOk(const fs::path& path, const StudyKey& key = Key(),
                                    double lease_s = 3600) {
  Result<std::unique_ptr<SqliteStudy>> s = SqliteStudy::Open(path.string(), key, Lease(lease_s));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(Study, OtherOptionsAreAnErrorNamingTheFlag) {
  const TempDir dir;
  const fs::path db = dir / "s.db";
  ASSERT_TRUE(OpenOk(db, Key("bo")));
  Result<std::unique_ptr<SqliteStudy>> s = SqliteStudy::Open(db.string(), Key("random"), Lease());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            db.string() +
                ": this study was made with --strategy bo, not --strategy random: run "
                "with the same options to resume it, or give another --study");
  StudyKey other = Key("bo");
  other.space = R"({"parameters":{"y":{"type":"float"}}})";
  other.space_source = "other.json";
  s = SqliteStudy::Open(db.string(), other, Lease());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("another search space (space.json), not other.json"),
            std::string::npos)
      << s.status().message();
  EXPECT_EQ(s.status().message().find('\n'), std::string::npos);
}

TEST(Study, ANonStudyFileIsRefused) {
  const TempDir dir;
  std::ofstream(dir / "text.db") << "not a database at all, just some text that is long enough";
  Result<std::unique_ptr<SqliteStudy>> s =
      SqliteStudy::Open((dir / "text.db").string(), Key(), Lease());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a joulecast study"), std::string::npos)
      << s.status().message();
  s = SqliteStudy::OpenReadOnly((dir / "missing.db").string(), kDefaultStudyName);
  EXPECT_FALSE(s.ok());
}

// A worker killed mid-trial leaves it running; the next claim re-runs it under its number.
TEST(Study, StaleRunningTrialIsRerunUnderTheSameNumber) {
  const TempDir dir;
  const fs::path db = dir / "s.db";
  {
    auto study = OpenOk(db);
    ASSERT_TRUE(study->ClaimNext(4, Counting()).ok());
    ASSERT_TRUE(study->Finish(0, Ok(0.8, 10)).ok());
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = SqliteStudy::Open(db.string(), Key(), Lease());
    if (!r.ok()) _exit(1);
    auto c = (*r)->ClaimNext(4, Counting());
    _exit(c.ok() && c->kind == Claim::Kind::trial && c->trial.number == 1 ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  auto study = OpenOk(db);
  Result<std::vector<StudyTrial>> before = study->Load();
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[1].status, "running");
  EXPECT_NE((*before)[1].worker, study->worker());
  Result<Claim> c = study->ClaimNext(4, MustNotPropose());
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->kind, Claim::Kind::trial);
  EXPECT_TRUE(c->rerun);
  EXPECT_EQ(c->trial.number, 1);
  EXPECT_EQ(c->trial.params_json, "{\"x\": 1}");
  EXPECT_EQ(c->trial.runs, 2);
  ASSERT_TRUE(study->Finish(1, Ok(0.9, 20)).ok());
  Result<std::vector<StudyTrial>> after = study->Load();
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[1].status, "done");
  EXPECT_EQ((*after)[1].runs, 2);
  EXPECT_EQ((*after)[1].worker, study->worker());
}

// A live worker's trial is not taken over; another worker gets the next number.
TEST(Study, LiveWorkersTrialIsNotTakenOver) {
  const TempDir dir;
  const fs::path db = dir / "s.db";
  auto a = OpenOk(db), b = OpenOk(db);
  ASSERT_TRUE(a && b);
  Result<Claim> ca = a->ClaimNext(4, Counting());
  Result<Claim> cb = b->ClaimNext(4, Counting());
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_EQ(ca->trial.number, 0);
  EXPECT_EQ(cb->trial.number, 1);
  EXPECT_FALSE(cb->rerun);
}

// Past the lease even a live worker's trial is stale; its late result is then refused.
TEST(Study, TrialOlderThanTheLeaseIsTakenOver) {
  const TempDir dir;
  const fs::path db = dir / "s.db";
  auto a = OpenOk(db);
  ASSERT_TRUE(a->ClaimNext(2, Counting()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto b = OpenOk(db, Key(), /*lease_s=*/0.01);
  Result<Claim> c = b->ClaimNext(2, MustNotPropose());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->rerun);
  EXPECT_EQ(c->trial.number, 0);
  Status late = a->Finish(0, Ok(0.6, 2));
  EXPECT_FALSE(late.ok());
  EXPECT_NE(late.message().find("taken over"), std::string::npos) << late.message();
  EXPECT_TRUE(b->Finish(0, Ok(0.5, 1)).ok());
  EXPECT_DOUBLE_EQ(*b->Load()->at(0).accuracy, 0.5);
}

TEST(Study, ReadOnlyOpenReadsTheKey) {
  const TempDir dir;
  const fs::path db = dir / "s.db";
  ASSERT_TRUE(OpenOk(db));
  Result<std::unique_ptr<SqliteStudy>> s =
      SqliteStudy::OpenReadOnly(db.string(), kDefaultStudyName);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ((*s)->key().space_source, "space.json");
  ASSERT_EQ((*s)->key().options.size(), 2u);
  EXPECT_EQ((*s)->key().options[0].first, "strategy");
  EXPECT_EQ((*s)->key().options[0].second, "bo");
}

}  // namespace
}  // namespace joulecast::search
