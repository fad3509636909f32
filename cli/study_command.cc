// `joulecast study copy FROM TO`: moves a search's study between an SQLite file and a PostgreSQL
// database (either way, or between two of a kind), so that a search begun on a laptop goes on
// on a cluster (docs/search-cluster.md). The copy is one transaction in the target: all of it or
// nothing; a target study that already holds trials is never overwritten.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "analyzer/search/study_storage.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace joulecast::cli {

namespace {

constexpr const char* kStudyUsage =
    "usage: joulecast study copy FROM TO [--study-name NAME] [--to-study-name NAME]\n"
    "\n"
    "Copies the study NAME of FROM (an SQLite file or postgresql://USER@HOST[:PORT]/DB) into\n"
    "TO, as the same name unless --to-study-name says otherwise. Trials still running arrive\n"
    "released: the next worker on TO re-runs them under their numbers. A target study that\n"
    "holds trials is left alone (an error); the copy is all or nothing.\n";

}  // namespace

int Study(const std::vector<std::string>& args) {
  std::string name = search::kDefaultStudyName, to_name;
  std::vector<std::string> positionals;
  auto name_flag = [](const char* flag, std::string* into) {
    return Flag{.name = flag,
                .metavar = "NAME",
                .kind = FlagKind::text,
                .empty_ok = false,
                .help = std::string(flag) == "--study-name" ? "the study to copy (default: default)"
                                                            : "its name in TO (default: the same)",
                .error = std::string(flag) + " needs a name",
                .set = [into, flag](const FlagValue& v) {
                  Status s = search::CheckStudyName(v.text);
                  if (!s.ok()) return std::string(flag) + s.message().substr(12);
                  *into = v.text;
                  return std::string();
                }};
  };
  CommandLine cli("study", kStudyUsage, 22,
                  {name_flag("--study-name", &name), name_flag("--to-study-name", &to_name)});
  cli.Positionals([&](const std::string& arg) {
    positionals.push_back(arg);
    return std::string();
  });
  if (auto exit_code = cli.Parse(args)) return *exit_code;
  if (positionals.empty()) {
    cli.PrintHelp(stderr);
    return 2;
  }
  if (positionals[0] != "copy") {
    return cli.Fail("unknown action '" + positionals[0] + "': use copy (joulecast study --help)");
  }
  if (positionals.size() != 3) {
    return cli.Fail(
        "copy needs FROM and TO, like: joulecast study copy laptop.db "
        "postgresql://me@db-host/joulecast");
  }
  const std::string& from = positionals[1];
  const std::string& to = positionals[2];
  if (to_name.empty()) to_name = name;
  std::error_code ec;
  if (!search::IsPostgresUrl(from) && !std::filesystem::is_regular_file(from, ec)) {
    return cli.Fail(from + ": no such study file");
  }
  if (from == to && name == to_name) {
    return cli.Fail("FROM and TO are the same study: give another TO or --to-study-name");
  }
  Result<std::unique_ptr<search::StudyStorage>> source = search::OpenStudyReadOnly(from, name);
  if (!source.ok()) return cli.Fail(source.status().message());
  Result<std::vector<search::StudyTrial>> trials = (*source)->Load();
  if (!trials.ok()) return cli.Fail(trials.status().message());
  Status copied = search::ImportStudy(to, to_name, (*source)->key(), *trials);
  if (!copied.ok()) return cli.Fail(copied.message());
  int running = 0;
  for (const search::StudyTrial& t : *trials) running += t.status == "running";
  std::printf("copied study %s (%zu trials%s) from %s to %s%s\n", name.c_str(), trials->size(),
              running ? (", " + std::to_string(running) + " running, to be re-run").c_str() : "",
              search::Redacted(from).c_str(), search::Redacted(to).c_str(),
              to_name == name ? "" : (" as " + to_name).c_str());
  return 0;
}

}  // namespace joulecast::cli
