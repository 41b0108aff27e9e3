// aio/detail/call_graph.hpp - walking who awaits whom among a loop's tasks, and the text
// layouts of aio/diagnostics.hpp.
#pragma once

#include <aio/detail/source_location.hpp>
#include <aio/detail/state.hpp>
#include <aio/task.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace aio::detail {

/// The tasks awaiting `s` now, each once, in the order they started waiting.
inline std::vector<state_base*> awaiters_of(state_base& s) {
    std::vector<state_base*> out;
    s.for_each_waiter([&](const done_waiter& w) {
        state_base* t = w.awaiting_task();
        if (t != nullptr && std::find(out.begin(), out.end(), t) == out.end()) {
            out.push_back(t);
        }
    });
    return out;
}

/// What a task does now, for a call stack's top line or a tree's brackets: the await it is
/// parked in, "running", or how it ended.
inline std::string_view activity_of(const any_task& t) {
    switch (t.status()) {
    case task_status::running:
        return "running";
    case task_status::done:
        return "done";
    case task_status::cancelled:
        return "cancelled";
    case task_status::pending:
        break;
    }
    return t.waiting_on();
}

inline std::string hex(std::uint64_t n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(n));
    return buf;
}

/// Captures the graph of `s`; `path` holds the tasks between the root and `s` (a task met again
/// there closes a cycle and is not followed).
template <class Graph, class Entry>
Graph capture_node(state_base& s, std::vector<state_base*>& path) {
    Graph g;
    g.task = any_task(ref<state_base>(&s));
    if (!s.done()) {
        std::string_view doing = activity_of(g.task);
        if (!doing.empty()) {
            g.call_stack.push_back(Entry{std::string(doing), g.task.await_site()});
        }
        g.stack_frames = s.stack_frames();
    }
    if (std::find(path.begin(), path.end(), &s) != path.end()) {
        g.cycle = true;
        return g;
    }
    path.push_back(&s);
    for (state_base* awaiter : awaiters_of(s)) {
        g.awaited_by.push_back(capture_node<Graph, Entry>(*awaiter, path));
    }
    path.pop_back();
    return g;
}

template <class Graph, class Entry>
Graph capture_graph(const any_task& t) {
    std::vector<state_base*> path;
    return capture_node<Graph, Entry>(t.state(), path);
}

/// A compiler's function name without its return type and parameter lists, as Python shows a
/// qualified name: "aio::awaitable<void> show()" gives "show()", a lambda's operator() inside
/// album(std::string, ...) gives "album()::<lambda()>::operator()()".
inline std::string short_function_name(std::string_view full) {
    std::string out;
    int parens = 0;
    int angles = 0;
    for (char c : full) {
        if (c == ')') {
            --parens;
        }
        if (parens == 0) {
            if (c == ' ' && angles == 0) {
                out.clear(); // what came before was the return type
                continue;
            }
            if (c == '<') {
                ++angles;
            } else if (c == '>') {
                --angles;
            }
            out += c;
        }
        if (c == '(') {
            ++parens;
        }
    }
    return out;
}

/// "File 'f', line n, in fn()", or "" for an unknown site.
inline std::string site_text(const aio::source_location& where) {
    if (where.line() == 0) {
        return {};
    }
    std::string text =
        "File '" + std::string(where.file_name()) + "', line " + std::to_string(where.line());
    std::string function = short_function_name(where.function_name());
    return function.empty() ? text : text + ", in " + function;
}

/// One level of format_call_graph, indented four spaces per level, as Python 3.14 does.
template <class Graph>
void format_graph(const Graph& g, std::string& out, std::size_t level) {
    std::string indent(level * 4, ' ');
    auto line = [&](std::string_view text) {
        out += indent;
        out += text;
        out += '\n';
    };
    line("* Task(name='" + g.task.name() + "', id=" + hex(g.task.id()) + ")" +
         (g.cycle ? " (cycle: shown above)" : ""));
    std::string created = site_text(g.task.created_at());
    if (!created.empty()) {
        line("  + Created at:");
        line("  |   " + created);
    }
    if (!g.call_stack.empty() || g.stack_frames > 0) {
        line("  + Call stack:");
        for (const auto& entry : g.call_stack) {
            std::string site = site_text(entry.where);
            line("  |   " + (site.empty() ? entry.function : site + " (" + entry.function + ")"));
        }
        if (g.stack_frames > 0) {
            line("  |   (" + std::to_string(g.stack_frames) +
                 " coroutine frame(s); Asio keeps no names or lines for them)");
        }
    }
    if (!g.awaited_by.empty()) {
        line("  + Awaited by:");
        for (const auto& parent : g.awaited_by) {
            format_graph(parent, out, level + 1);
        }
    }
}

/// format_task_tree's engine: the tasks as a forest, each task above the tasks it awaits.
class task_tree {
public:
    explicit task_tree(std::vector<any_task> tasks) : tasks_(std::move(tasks)) {
        awaits_.resize(tasks_.size());
        std::vector<bool> awaited(tasks_.size(), false);
        for (std::size_t child = 0; child < tasks_.size(); ++child) {
            for (state_base* awaiter : awaiters_of(tasks_[child].state())) {
                std::size_t parent = index_of(awaiter);
                if (parent < tasks_.size()) {
                    awaits_[parent].push_back(child);
                    awaited[child] = true;
                }
            }
        }
        for (std::size_t i = 0; i < tasks_.size(); ++i) {
            if (!awaited[i]) {
                roots_.push_back(i);
            }
        }
    }

    std::string format() {
        // The roots first; what they do not reach awaits in circles, each entered at its first
        // task (by creation order).
        std::vector<std::size_t> tops = roots_;
        std::vector<bool> reached(tasks_.size(), false);
        for (std::size_t r : roots_) {
            mark(r, reached);
        }
        for (std::size_t i = 0; i < tasks_.size(); ++i) {
            if (!reached[i]) {
                tops.push_back(i);
                mark(i, reached);
            }
        }
        for (std::size_t k = 0; k < tops.size(); ++k) {
            print(tops[k], "", k + 1 == tops.size());
        }
        return std::move(out_);
    }

private:
    std::size_t index_of(const state_base* s) const noexcept {
        for (std::size_t i = 0; i < tasks_.size(); ++i) {
            if (&tasks_[i].state() == s) {
                return i;
            }
        }
        return tasks_.size();
    }
    void mark(std::size_t i, std::vector<bool>& reached) const {
        if (reached[i]) {
            return;
        }
        reached[i] = true;
        for (std::size_t c : awaits_[i]) {
            mark(c, reached);
        }
    }

    std::string label(std::size_t i) const {
        const any_task& t = tasks_[i];
        std::string text = "(T) " + t.name() + " id=" + hex(t.id());
        std::string_view doing = activity_of(t);
        if (!doing.empty()) {
            text += " [" + std::string(doing) + "]";
        }
        aio::source_location where = t.created_at();
        if (where.line() != 0) {
            text += " created at " + std::string(where.file_name()) + ":" +
                    std::to_string(where.line());
        }
        return text;
    }

    void print(std::size_t i, const std::string& prefix, bool last) {
        out_ += prefix + (last ? "└── " : "├── ");
        if (std::find(path_.begin(), path_.end(), i) != path_.end()) {
            out_ += "(cycle: back to '" + tasks_[i].name() + "')\n";
            return;
        }
        out_ += label(i) + '\n';
        path_.push_back(i);
        const std::vector<std::size_t>& children = awaits_[i];
        for (std::size_t k = 0; k < children.size(); ++k) {
            print(children[k], prefix + (last ? "    " : "│   "), k + 1 == children.size());
        }
        path_.pop_back();
    }

    std::vector<any_task> tasks_;
    std::vector<std::vector<std::size_t>> awaits_; // by index: the tasks that task awaits
    std::vector<std::size_t> roots_;
    std::vector<std::size_t> path_;
    std::string out_;
};

inline std::string format_tree(std::vector<any_task> tasks) {
    return task_tree(std::move(tasks)).format();
}

} // namespace aio::detail
