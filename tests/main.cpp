// The doctest runner of aio's tests: one test file per public header.
// doctest would install its own SIGINT and SIGTERM handlers around each test; aio::run leaves
// signals that have a handler alone, and the signal tests need aio's handling.
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>

namespace {

/// How many test cases passed the command line's filters in the last run.
int selected_test_cases = -1;

/// A listener that records it (doctest reports it at the end of a run).
struct selection_listener : doctest::IReporter {
    explicit selection_listener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        selected_test_cases = static_cast<int>(stats.numTestCasesPassingFilters);
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selection", 1, selection_listener);

} // namespace

// ctest runs one test case per process, by name (--test-case=NAME). A name that matches nothing
// runs nothing, which doctest counts as a success: here it fails, so that a test case whose
// name ctest cannot pass on (one with a ';', which CMake splits) never passes unseen.
int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    int status = context.run();
    if (context.shouldExit() || status != 0) {
        return status;
    }
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        bool by_name = arg.starts_with("--test-case=") || arg.starts_with("-tc=");
        if (by_name && selected_test_cases == 0) {
            std::fprintf(stderr, "no test case matches %s\n", argv[i]);
            return 1;
        }
    }
    return status;
}
