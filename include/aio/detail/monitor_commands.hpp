// aio/detail/monitor_commands.hpp - the task monitor's commands (aio/monitor.hpp): one command
// line in, the text of its reply out. No sockets here: the monitor's connections feed it.
#pragma once

#include <aio/detail/call_graph.hpp>
#include <aio/detail/loop_core.hpp>
#include <aio/diagnostics.hpp>
#include <aio/task.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace aio::detail {

/// The reply to one command line: its text (each line ends with '\n'), and whether the
/// connection ends after it (quit).
struct monitor_reply {
    std::string text;
    bool close = false;
};

/// The commands of a monitor on one loop. `own` holds the ids of the monitor's own tasks
/// (accepting, serving its clients): they are left out of what the commands show and reach,
/// as aiomonitor's, which runs on a thread of its own, are. Loop thread only.
class monitor_commands {
public:
    monitor_commands(loop_core& loop, const std::vector<std::uint64_t>& own) noexcept
        : loop_(loop), own_(own) {}

    /// Runs one command line ("\r\n" or "\n" at its end is ignored). Bad input gets a reply
    /// starting with "error: "; nothing here throws but allocation.
    monitor_reply run(std::string_view line) const {
        std::vector<std::string_view> words = split(line);
        if (words.empty()) {
            return {};
        }
        std::string_view command = words.front();
        std::size_t args = words.size() - 1;
        if (command == "quit" || command == "exit") {
            return {"bye\n", true};
        }
        if ((command == "ps" || command == "stats" || command == "help") && args != 0) {
            return {"error: " + std::string(command) + " takes no argument\n"};
        }
        if ((command == "where" || command == "cancel" || command == "signal") && args != 1) {
            return {"error: usage: " + std::string(command) +
                    (command == "signal" ? " NAME\n" : " ID\n")};
        }
        if (command == "ps") {
            return {ps()};
        }
        if (command == "stats") {
            return {stats()};
        }
        if (command == "help") {
            return {std::string(help_text)};
        }
        if (command == "where") {
            return {where(words[1])};
        }
        if (command == "cancel") {
            return {cancel(words[1])};
        }
        if (command == "signal") {
            return {send_signal(words[1])};
        }
        return {"error: unknown command '" + printable(command) + "' (help lists the commands)\n"};
    }

    /// The greeting a client gets when it connects.
    std::string greeting() const {
        return "aio monitor: " + std::to_string(tasks().size()) +
               " task(s) pending on this loop. Type help for the commands.\n";
    }

    static constexpr std::string_view help_text =
        "Commands, one per line:\n"
        "  ps           the pending tasks: id, state, name, the await each is parked in and\n"
        "               where it was called, where the task was created\n"
        "  where ID     the call graph of task ID: its await, the tasks awaiting it\n"
        "  cancel ID    cancels task ID (any_task::cancel)\n"
        "  signal NAME  sends signal NAME (USR1 or SIGUSR1, HUP, TERM, ...) to this process\n"
        "  stats        the loop's figures: tasks by what they wait on, timers, executor jobs\n"
        "  help         this list\n"
        "  quit         closes this connection (exit too)\n"
        "ID is a task's id as ps shows it (decimal), or in hexadecimal as a call graph shows\n"
        "it (0x1f). The monitor's own tasks are not shown.\n";

private:
    /// The loop's pending tasks, the monitor's own left out, in creation order.
    std::vector<any_task> tasks() const {
        std::vector<any_task> out;
        for (any_task& t : tasks_of(loop_)) {
            if (std::find(own_.begin(), own_.end(), t.id()) == own_.end()) {
                out.push_back(std::move(t));
            }
        }
        std::sort(out.begin(), out.end(),
                  [](const any_task& a, const any_task& b) { return a.id() < b.id(); });
        return out;
    }

    static std::string state_of(const any_task& t) {
        if (t.cancelling() > 0) {
            return "cancelling";
        }
        return t.status() == task_status::running ? "running" : "pending";
    }

    static std::string doing(const any_task& t) {
        std::string_view what = t.waiting_on();
        return what.empty() ? "running" : std::string(what);
    }

    /// "file:line" (the file without its directories), or "-" for an unknown site.
    static std::string site(aio::source_location at) {
        if (at.line() == 0) {
            return "-";
        }
        std::string_view file = at.file_name();
        if (std::size_t slash = file.rfind('/'); slash != std::string_view::npos) {
            file.remove_prefix(slash + 1);
        }
        return std::string(file) + ":" + std::to_string(at.line());
    }

    std::string ps() const {
        std::vector<any_task> all = tasks();
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"ID", "STATE", "NAME", "WAITING ON", "CALLED AT", "CREATED AT"});
        for (const any_task& t : all) {
            rows.push_back({std::to_string(t.id()), state_of(t), t.name(), doing(t),
                            site(t.await_site()), site(t.created_at())});
        }
        std::string out = table(rows);
        out += std::to_string(all.size()) + " task(s)\n";
        return out;
    }

    std::string stats() const {
        std::vector<any_task> all = tasks();
        std::map<std::string, std::size_t> by_await;
        std::size_t cancelling = 0;
        for (const any_task& t : all) {
            ++by_await[doing(t)];
            cancelling += t.cancelling() > 0 ? 1 : 0;
        }
        std::string out = "tasks pending: " + std::to_string(all.size()) + " (" +
                          std::to_string(cancelling) + " cancelling)\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& [what, count] : by_await) {
            rows.push_back({"  " + what, std::to_string(count)});
        }
        out += table(rows);
        out += "tasks created on this loop: " + std::to_string(loop_.tasks_created()) + "\n";
        out +=
            "timers pending (sleeps, timeouts): " + std::to_string(loop_.deadlines().size()) + "\n";
        out += "executor jobs in flight: " + std::to_string(loop_.running_jobs()) + "\n";
        if (loop_.debug()) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          loop_.slow_callback_duration())
                          .count();
            out +=
                "slow steps (debug mode, over " +
                (us % 1000 == 0 ? std::to_string(us / 1000) + " ms" : std::to_string(us) + " us") +
                "): " + std::to_string(loop_.slow_steps()) + "\n";
        } else {
            out += "slow steps: not counted (debug mode is off)\n";
        }
        return out;
    }

    std::string where(std::string_view id) const {
        std::optional<any_task> t = find(id);
        if (!t) {
            return no_task(id);
        }
        return format_call_graph(*t) + "\n";
    }

    std::string cancel(std::string_view id) const {
        std::optional<any_task> t = find(id);
        if (!t) {
            return no_task(id);
        }
        t->cancel();
        return "cancel requested: task " + std::to_string(t->id()) + " '" + t->name() + "'\n";
    }

    static std::string send_signal(std::string_view name) {
        std::optional<int> number = signal_number(name);
        if (!number) {
            std::string known;
            for (const auto& s : signal_names) {
                known += " ";
                known += s.name;
            }
            return "error: unknown signal '" + printable(name) + "' (known:" + known + ")\n";
        }
        if (::kill(::getpid(), *number) != 0) {
            return "error: kill failed: " + std::system_category().message(errno) + "\n";
        }
        return "sent SIG" + std::string(signal_name(*number)) + " to process " +
               std::to_string(::getpid()) + "\n";
    }

    std::optional<any_task> find(std::string_view text) const {
        std::optional<std::uint64_t> id = parse_id(text);
        if (!id) {
            return std::nullopt;
        }
        std::optional<any_task> found;
        loop_.tasks().for_each([&](state_base& s) {
            if (s.id() == *id && std::find(own_.begin(), own_.end(), *id) == own_.end()) {
                found = any_task(ref<state_base>(&s));
            }
        });
        return found;
    }

    static std::string no_task(std::string_view id) {
        if (!parse_id(id)) {
            return "error: '" + printable(id) + "' is not a task id (ps lists them)\n";
        }
        return "error: no pending task with id " + printable(id) + " (ps lists them)\n";
    }

    /// A decimal id, or a hexadecimal one after "0x".
    static std::optional<std::uint64_t> parse_id(std::string_view text) {
        int base = 10;
        if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
            base = 16;
            text.remove_prefix(2);
        }
        std::uint64_t id = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, base);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
            return std::nullopt;
        }
        return id;
    }

    struct named_signal {
        std::string_view name;
        int number;
    };
    static constexpr named_signal signal_names[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},  {"ABRT", SIGABRT},
        {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},  {"PIPE", SIGPIPE},
        {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD},  {"CONT", SIGCONT},
        {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}};

    /// USR1, SIGUSR1, usr1 or sigusr1.
    static std::optional<int> signal_number(std::string_view name) {
        std::string upper;
        for (char c : name) {
            upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        std::string_view bare = upper;
        if (bare.starts_with("SIG")) {
            bare.remove_prefix(3);
        }
        for (const auto& s : signal_names) {
            if (s.name == bare) {
                return s.number;
            }
        }
        return std::nullopt;
    }
    static std::string_view signal_name(int number) {
        for (const auto& s : signal_names) {
            if (s.number == number) {
                return s.name;
            }
        }
        return {};
    }

    /// The words of a line, split at spaces and tabs (a trailing "\r\n" or "\n" dropped).
    static std::vector<std::string_view> split(std::string_view line) {
        std::vector<std::string_view> words;
        std::size_t at = 0;
        while (at < line.size()) {
            std::size_t start = line.find_first_not_of(" \t\r\n", at);
            if (start == std::string_view::npos) {
                break;
            }
            std::size_t end = line.find_first_of(" \t\r\n", start);
            if (end == std::string_view::npos) {
                end = line.size();
            }
            words.push_back(line.substr(start, end - start));
            at = end;
        }
        return words;
    }

    /// What a client sent, fit to be echoed in an error line: at most 40 bytes, each byte
    /// that is not printable ASCII shown as '?'.
    static std::string printable(std::string_view text) {
        std::string out;
        for (char c : text.substr(0, 40)) {
            out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
        }
        return text.size() > 40 ? out + "..." : out;
    }

    /// Rows as columns two spaces apart, the last column not padded.
    static std::string table(const std::vector<std::vector<std::string>>& rows) {
        std::vector<std::size_t> width;
        for (const auto& row : rows) {
            width.resize(std::max(width.size(), row.size()));
            for (std::size_t i = 0; i < row.size(); ++i) {
                width[i] = std::max(width[i], row[i].size());
            }
        }
        std::string out;
        for (const auto& row : rows) {
            for (std::size_t i = 0; i < row.size(); ++i) {
                out += row[i];
                if (i + 1 < row.size()) {
                    out.append(width[i] - row[i].size() + 2, ' ');
                }
            }
            out += '\n';
        }
        return out;
    }

    loop_core& loop_;
    const std::vector<std::uint64_t>& own_;
};

} // namespace aio::detail
