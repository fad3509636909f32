// The SQLite layer: errors that name the file, statements, and transactions that roll back
// unless committed.
#include "common/sqlite.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "common/testing/test_util.h"

namespace joulecast::sqlite {
namespace {

int64_t Count(Database& db) {
  Statement q(db, "SELECT count(*) FROM t");
  return q.Step() ? q.Int(0) : -1;
}

TEST(Sqlite, OpenErrorsNameTheFile) {
  const std::string missing = "/nonexistent-joulecast-dir/x.db";
  Database db(missing, Database::Mode::create, 0);
  EXPECT_FALSE(db.ok());
  EXPECT_EQ(db.Error("cannot open").rfind(missing + ": cannot open: ", 0), 0u) << db.Error("");

  const testing::TempDir dir;
  std::ofstream(dir / "text.db") << "not a database, but long enough to have a header of sorts\n";
  Database other(dir / "text.db", Database::Mode::read_write, 0);
  ASSERT_TRUE(other.ok());  // SQLite reads the file lazily.
  EXPECT_FALSE(other.Exec("CREATE TABLE t (x)"));
  EXPECT_TRUE(other.NotADatabase());
}

TEST(Sqlite, StatementsBindStepAndRead) {
  Database db(":memory:", Database::Mode::create, 0);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db.Exec("CREATE TABLE t (s TEXT, i INTEGER, r REAL)"));
  Statement insert(db, "INSERT INTO t VALUES (?1, ?2, ?3)");
  insert.Bind(1, std::string("a\0b", 3));
  insert.Bind(2, int64_t{1} << 40);
  insert.Bind(3, std::optional<double>());
  ASSERT_TRUE(insert.Run());
  EXPECT_EQ(db.Changes(), 1);
  Statement q(db, "SELECT s, i, r FROM t");
  ASSERT_TRUE(q.Step());
  EXPECT_EQ(q.Int(1), int64_t{1} << 40);
  EXPECT_EQ(q.OptReal(2), std::nullopt);
  EXPECT_FALSE(q.Step());
  EXPECT_TRUE(q.ok());

  Statement bad(db, "SELECT x FROM nowhere");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(bad.Step());
  EXPECT_EQ(db.Error("cannot read"), ":memory:: cannot read: no such table: nowhere");
}

TEST(Sqlite, TransactionsRollBackUnlessCommitted) {
  Database db(":memory:", Database::Mode::create, 0);
  ASSERT_TRUE(db.Exec("CREATE TABLE t (x)"));
  {
    Transaction tx(db);
    ASSERT_TRUE(tx.Begin());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (1)"));
  }
  EXPECT_EQ(Count(db), 0);
  {
    Transaction tx(db);
    ASSERT_TRUE(tx.Begin());
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (1)"));
    ASSERT_TRUE(tx.Commit());
  }
  EXPECT_EQ(Count(db), 1);
}

}  // namespace
}  // namespace joulecast::sqlite
