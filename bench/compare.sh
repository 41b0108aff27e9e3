#!/usr/bin/env bash
# compare.sh - runs aio, raw Asio, Python asyncio and uvloop side by side on this machine and
# prints one table: the rate of each implementation (the median of several interleaved rounds),
# the ratios aio/raw Asio and aio/uvloop (or aio/asyncio where the target is set against
# asyncio), and peak RSS.
#
#   bench/compare.sh [--rounds N] [--seconds S] [--only ROW] [--pin] [--plot] [--out DIR]
#   bench/compare.sh --replot [--out DIR]
#   bench/compare.sh --smoke
#
#   --rounds N    rounds per workload (default 5); each round runs every implementation once,
#                 in turn, so that a slow spell of the machine hits all of them alike
#   --seconds S   duration of each echo and HTTP load run (default 5)
#   --only ROW    run one row only: a workload's name, echo, echo_4k, mq_fanout, idle (memory
#                 per idle connection), http_hello, http_client, compile
#   --pin         pin the echo rows' server to CPU 0 and the load client to CPU 1 (taskset),
#                 for every implementation alike: steadier on a machine of one's own; on one
#                 shared with other work, whichever pinned process shares its CPU with that work
#                 loses half its time (docs/benchmarks.md), so by default the scheduler places them
#   --plot        also draw docs/benchmarks.svg (the ratios) with gnuplot
#   --replot      only redraw docs/benchmarks.svg from the last run's results in --out
#   --out DIR     where the raw result lines and the table go (default build/bench/results)
#   --smoke       one round with tiny sizes and 1 s loads: checks that everything runs, measures
#                 nothing (what CI does)
#
# Rows: the eight workloads of bench/peers/asyncio_bench.py; echo and echo_4k (bench/echo_load,
# 50 connections, 64-byte and 4 KiB messages, against bench/aio_echo_server on aio's streams,
# bench/raw_echo_server and the Python streams peers; besides the rate, the server's CPU time
# per round trip - its user + system time over the run, from /proc - in a table of its own: it
# counts the server's own time only, so that other work sharing the machine moves it less than
# the rate); HTTP
# hello (wrk against bench/aio_hello_server on aio's HTTP layer, bench/raw_hello_server and aiohttp);
# HTTP client (bench/aio_http_client, aio::http::client_session, against aiohttp's ClientSession
# in bench/peers/http_client.py: 64 requests in flight to bench/raw_hello_server);
# compile time (bench/compile/with_aio.cpp, which includes <aio/aio.hpp>, and
# with_aio_task.cpp, which includes only what running one task needs, each against
# with_raw_asio.cpp); the message queue (bench/mq_load: 1 publisher to 4 subscribers through
# examples/mq_server_plus.cpp and its Python peer bench/peers/mq_server_plus.py, messages per
# second, then one message's p50/p99 latency in a table of its own); and, in a table of its own, the memory per idle connection of each echo
# server (bench/idle_rss.py: 10,000 idle connections, RSS growth / connections). The Python rows need a python3 with uvloop and aiohttp (PYTHON=..., else
# python3, else Debian's /usr/bin/python3); the HTTP row needs wrk. Rows whose tools are missing
# are skipped (said on stderr, "-" in the table).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=5
seconds=5
plot=false
replot=false
smoke=false
out=build/bench/results
only=""
pin=false
while [[ $# -gt 0 ]]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --plot) plot=true; shift ;;
    --replot) replot=true; shift ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --pin) pin=true; shift ;;
    --smoke) smoke=true; rounds=1; seconds=1; shift ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
done
if ! [[ $rounds =~ ^[1-9][0-9]*$ && $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "compare.sh: --rounds and --seconds take a positive whole number" >&2
    exit 2
fi

draw_chart() {
    if ! command -v gnuplot >/dev/null; then
        echo "compare.sh: drawing the chart needs gnuplot" >&2
        exit 1
    fi
    gnuplot <<EOF
set terminal svg size 900,420 font "sans,12" background "white" noenhanced
set output "docs/benchmarks.svg"
set title "aio relative to raw Asio and to uvloop (higher is better; 1 = same speed)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y 2
set yrange [0.25:32]
set ytics ("1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32)
set grid ytics
set xtics rotate by -30
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
set datafile separator "\t"
plot "$1" using (\$2 > 0 ? \$2 : NaN):xtic(1) title "aio / raw Asio (compile: raw time / aio time)" lc rgb "#3b6ea8", \
     "" using (\$3 > 0 ? \$3 : NaN) title "aio / uvloop" lc rgb "#e0a030"
EOF
    echo "drew docs/benchmarks.svg"
}

if $replot; then
    draw_chart "$out/ratios.tsv"
    exit 0
fi

echo "building (cmake --preset bench)" >&2
cmake --preset bench >/dev/null
cmake --build --preset bench >/dev/null
bin=build/bench/bench
aio_echo=$bin/aio_echo_server

mkdir -p "$out"
lines=$out/lines.txt
: >"$lines"

python=""
for candidate in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [[ -n $candidate ]] && "$candidate" -c 'import aiohttp, uvloop' 2>/dev/null; then
        python=$candidate
        break
    fi
done
[[ -n $python ]] || echo "compare.sh: no python3 with aiohttp and uvloop: Python rows skipped" >&2
have_wrk=false
command -v wrk >/dev/null && have_wrk=true
$have_wrk || echo "compare.sh: wrk not found: HTTP rows skipped" >&2

# field NAME LINE: the value of NAME=... in a result line.
field() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# record ROW IMPL RATE RSS_KB [N]: one measurement, kept in $lines as "ROW IMPL RATE RSS_KB N"
# (N: the tasks the workload holds at once, for the memory per task; 0 when it does not say).
record() { echo "$1 $2 $3 $4 ${5:-0}" >>"$lines"; }

# run_workload ROW IMPL N: one run of a workload; records its rate and peak RSS.
run_workload() {
    local row=$1 impl=$2 n=$3 line
    case $impl in
    asyncio) line=$("$python" bench/peers/asyncio_bench.py "$row" "$n") ;;
    uvloop) line=$("$python" bench/peers/asyncio_bench.py --uvloop "$row" "$n") ;;
    *) line=$("$bin/aio_bench" "$row" "$n" --impl "$impl") ;;
    esac
    echo "$line" >&2
    record "$row" "$impl" "$(field rate "$line")" "$(field peak_rss_kb "$line")" "$n"
}

# Servers listen below Linux's ephemeral range (32768 and up by default): a port in it may be
# the local end of one of the load clients' connections still open, and the bind then fails.
port=$((12000 + RANDOM % 16000))
server_pid=""
stop_server() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

# start_server CMD...: starts a server on a fresh port ($port) and waits until it accepts; a
# server that exits first, or does not accept within 10 s, ends the run with its stderr.
start_server() {
    port=$((port + 1))
    "$@" >/dev/null 2>"$out/server.stderr" &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "compare.sh: server exited before accepting on port $port: $*" >&2
            cat "$out/server.stderr" >&2
            server_pid=""
            exit 1
        fi
        sleep 0.1
    done
    echo "compare.sh: server did not accept on port $port within 10 s: $*" >&2
    cat "$out/server.stderr" >&2
    exit 1
}

# peak RSS of the running server, in KB.
server_rss() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }

# The server's user + system time so far, in clock ticks.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }

# With --pin, the echo rows' CPUs: the server on one, the load client on another (the same for
# every implementation), so that neither waits for the other's core, nor moves between them.
server_cpu=()
client_cpu=()
if $pin && command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi

run_echo() {
    local row=$1 bytes=$2 impl=$3 line ticks
    case $impl in
    aio) start_server "${server_cpu[@]}" "$aio_echo" $((port + 1)) ;;
    raw-asio) start_server "${server_cpu[@]}" "$bin/raw_echo_server" $((port + 1)) ;;
    asyncio) start_server "${server_cpu[@]}" "$python" bench/peers/echo_server.py $((port + 1)) ;;
    uvloop) start_server "${server_cpu[@]}" "$python" bench/peers/echo_server.py $((port + 1)) --uvloop ;;
    esac
    ticks=$(server_ticks)
    line=$("${client_cpu[@]}" "$bin/echo_load" 127.0.0.1 "$port" 50 "$seconds" "$bytes")
    ticks=$(($(server_ticks) - ticks))
    local cpu_us
    cpu_us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$(field round_trips "$line")" \
        'BEGIN { printf "%.2f", (n > 0 ? t / hz / n * 1e6 : 0) }')
    echo "$line bytes=$bytes impl=$impl server_cpu_us_per_round_trip=$cpu_us" >&2
    if [[ $(field errors "$line") != 0 ]]; then
        echo "compare.sh: echo errors against $impl" >&2
        exit 1
    fi
    record "$row" "$impl" "$(field rate "$line")" "$(server_rss)"
    echo "$row $impl $cpu_us" >>"$out/echo_cpu.txt"
    stop_server
}

# run_mq IMPL: the message queue row: bench/mq_load (1 publisher, 4 subscribers, 64-byte
# payloads) against mq_server_plus on aio and its Python peer; the rate, and p50/p99 of one
# message's latency at a light rate into $out/mq_latency.txt.
run_mq() {
    local impl=$1 line rounds_latency=1000
    $smoke && rounds_latency=50
    case $impl in
    aio) start_server "$bin/aio_mq_server" --port $((port + 1)) ;;
    asyncio) start_server "$python" bench/peers/mq_server_plus.py $((port + 1)) ;;
    uvloop) start_server "$python" bench/peers/mq_server_plus.py $((port + 1)) --uvloop ;;
    esac
    line=$("$bin/mq_load" 127.0.0.1 "$port" 4 "$seconds" 64 "$rounds_latency")
    echo "$line impl=$impl" >&2
    if [[ $(field errors "$line") != 0 ]]; then
        echo "compare.sh: message queue errors against $impl" >&2
        exit 1
    fi
    record mq_fanout "$impl" "$(field rate "$line")" "$(server_rss)"
    echo "$impl $(field p50_us "$line") $(field p99_us "$line")" >>"$out/mq_latency.txt"
    stop_server
}

run_http() {
    local impl=$1 rate
    case $impl in
    raw-beast) start_server "$bin/raw_hello_server" $((port + 1)) ;;
    aiohttp) start_server "$python" bench/peers/hello_server.py $((port + 1)) ;;
    aiohttp-uvloop) start_server "$python" bench/peers/hello_server.py $((port + 1)) --uvloop ;;
    aio) start_server "$bin/aio_hello_server" $((port + 1)) ;;
    esac
    rate=$(wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/^Requests\/sec:/ { print $2 }')
    echo "http_hello impl=$impl rate=$rate" >&2
    record http_hello "$impl" "$rate" "$(server_rss)"
    stop_server
}

# run_http_client IMPL: the HTTP client row: the client (aio's or aiohttp's, 64 requests in
# flight) against raw_hello_server; records the client's rate and peak RSS.
run_http_client() {
    local impl=$1 line
    start_server "$bin/raw_hello_server" $((port + 1))
    case $impl in
    aio) line=$("$bin/aio_http_client" "$port" "$seconds" 64) ;;
    aiohttp) line=$("$python" bench/peers/http_client.py "$port" "$seconds" 64) ;;
    aiohttp-uvloop) line=$("$python" bench/peers/http_client.py "$port" "$seconds" 64 --uvloop) ;;
    esac
    echo "$line" >&2
    if [[ $(field errors "$line") != 0 ]]; then
        echo "compare.sh: HTTP client errors with $impl" >&2
        exit 1
    fi
    record http_client "$impl" "$(field rate "$line")" "$(field peak_rss_kb "$line")"
    stop_server
}

compile_seconds() {
    local start end
    start=$(date +%s.%N)
    "${CXX:-c++}" -std=c++20 -O2 -Iinclude -c "$1" -o /dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

python_impls=()
[[ -n $python ]] && python_impls=(asyncio uvloop)

# wants ROW...: true if one of the rows is to run (all, unless --only names one).
wants() { [[ -z $only || " $* " == *" $only "* ]]; }

mapfile -t workloads < <("$bin/aio_bench" --list)
for entry in "${workloads[@]}"; do
    read -r name n <<<"$entry"
    if ! wants "$name"; then
        continue
    fi
    $smoke && n=$(((n + 999) / 1000))
    for _ in $(seq "$rounds"); do
        for impl in "${python_impls[@]}" raw-asio aio; do
            run_workload "$name" "$impl" "$n"
        done
    done
done

echo_rounds=$(((rounds + 1) / 2))
: >"$out/echo_cpu.txt"
for _ in $(seq "$echo_rounds"); do
    for impl in "${python_impls[@]}" raw-asio aio; do
        if wants echo; then run_echo echo 64 "$impl"; fi
        if wants echo_4k; then run_echo echo_4k 4096 "$impl"; fi
    done
done

: >"$out/mq_latency.txt"
mq_rounds=$echo_rounds
wants mq_fanout || mq_rounds=0
for _ in $(seq "$mq_rounds"); do
    for impl in "${python_impls[@]}" aio; do
        run_mq "$impl"
    done
done

# Memory per idle connection: one run per echo server (the numbers repeat to within 1%).
idle_connections=10000
$smoke && idle_connections=500
idle=$out/idle.txt
: >"$idle"
run_idle() {
    local impl=$1 line
    shift
    line=$("${python:-python3}" bench/idle_rss.py --connections "$idle_connections" --name "$impl" -- "$@")
    echo "$line" >&2
    echo "$line" >>"$idle"
}
idle_impls=()
if wants idle; then idle_impls=("${python_impls[@]}" raw-asio aio); fi
for impl in "${idle_impls[@]}"; do
    case $impl in
    aio) run_idle aio "$aio_echo" '{port}' ;;
    raw-asio) run_idle raw-asio "$bin/raw_echo_server" '{port}' ;;
    asyncio) run_idle asyncio "$python" bench/peers/echo_server.py '{port}' ;;
    uvloop) run_idle uvloop "$python" bench/peers/echo_server.py '{port}' --uvloop ;;
    esac
done

if $have_wrk && wants http_hello; then
    http_impls=(raw-beast aio)
    [[ -n $python ]] && http_impls+=(aiohttp aiohttp-uvloop)
    for _ in $(seq "$echo_rounds"); do
        for impl in "${http_impls[@]}"; do
            run_http "$impl"
        done
    done
fi

client_impls=()
if wants http_client; then
    client_impls=(aio)
    [[ -n $python ]] && client_impls=(aiohttp aiohttp-uvloop aio)
fi
for _ in $(seq "$echo_rounds"); do
    for impl in "${client_impls[@]}"; do
        run_http_client "$impl"
    done
done

# Two compile rows share the raw Asio side: compile (with_aio.cpp) and compile_task
# (with_aio_task.cpp).
compile_rounds=$echo_rounds
wants compile compile_task || compile_rounds=0
for _ in $(seq "$compile_rounds"); do
    for side in with_raw_asio with_aio with_aio_task; do
        secs=$(compile_seconds "bench/compile/$side.cpp")
        echo "compile $side seconds=$secs" >&2
        case $side in
        with_raw_asio)
            record compile raw_asio "$secs" 0
            record compile_task raw_asio "$secs" 0
            ;;
        with_aio) record compile aio "$secs" 0 ;;
        with_aio_task) record compile_task aio "$secs" 0 ;;
        esac
    done
done

# awk's median of a space-separated list of numbers, for the tables below.
awk_median='
    function median(list,    n, i, j, t, v) {
        n = split(list, v, " ")
        for (i = 2; i <= n; i++) {
            for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
                t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
            }
        }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
'

# The table: medians per row and implementation, then the ratios against each row's target.
table=$out/table.md
ratios=$out/ratios.tsv
awk -v ratios="$ratios" "$awk_median"'
    function rate(row, impl,    key) {
        key = row SUBSEP impl
        return (key in values) ? median(values[key]) : ""
    }
    function rss(row, impl,    key) {
        key = row SUBSEP impl
        return (key in rss_max) ? sprintf("%.0f", rss_max[key] / 1024) : "-"
    }
    function show(x) {
        if (x == "") return "-"
        if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
        if (x >= 1e3) return sprintf("%.1fk", x / 1e3)
        return sprintf("%.3g", x)
    }
    function per_task(row, impl, n,    key) {
        key = row SUBSEP impl
        return (key in rss_max) ? sprintf("%.0f B", rss_max[key] * 1024 / n) : "-"
    }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
    function showratio(r) { return r == "" ? "-" : sprintf("%.2fx", r) }
    {
        key = $1 SUBSEP $2
        values[key] = values[key] " " $3
        if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 }
        if ($4 + 0 > rss_max[key] + 0) rss_max[key] = $4
        if ($5 + 0 > 0) tasks[$1] = $5
    }
    END {
        holds["spawn_gather"] = holds["timers"] = holds["timers_1m"] = 1
        holds["event_fanout"] = holds["shutdown"] = 1
        target["spawn_gather"] = ">= 1.0x raw, RSS <= 1.2x raw"
        target["spawn_churn"] = ">= 1.0x raw"
        target["queue_pingpong"] = ">= 3x raw channel"
        target["async_gen"] = ">= 3x asyncio"
        target["executor"] = ">= 1.0x raw"
        target["timers"] = ">= 1.2x raw"
        target["timers_1m"] = ">= 1.2x raw"
        target["event_fanout"] = ">= 1.0x raw, >= 10x asyncio"
        target["shutdown"] = ">= 1.0x raw"
        target["echo"] = ">= 1.0x raw, >= 1.5x uvloop"
        target["echo_4k"] = ">= 1.0x raw, >= 1.5x uvloop"
        target["mq_fanout"] = ">= 5x uvloop"
        target["http_hello"] = ">= 0.95x raw Beast, >= 3x aiohttp-uvloop"
        target["http_client"] = ">= 3x aiohttp"
        target["compile"] = "<= 1.2x raw time"
        target["compile_task"] = "<= 1.2x raw time"
        print "| row | asyncio | uvloop | raw Asio | aio | aio/raw | aio/uvloop | aio/asyncio | peak RSS MB (asyncio/uvloop/raw/aio) | target |"
        print "|---|---|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= rows; i++) {
            row = order[i]
            py = "asyncio"; uv = "uvloop"; raw = "raw-asio"
            if (row == "http_hello") { py = "aiohttp"; uv = "aiohttp-uvloop"; raw = "raw-beast" }
            if (row == "http_client") { py = "aiohttp"; uv = "aiohttp-uvloop" }
            if (row ~ /^compile/) { raw = "raw_asio" }
            a = rate(row, "aio")
            if (row ~ /^compile/) {
                # Seconds, not a rate: the table gives aio time / raw time; the chart, like its
                # other bars, raw / aio (higher is better).
                printf "| %s (s) | - | - | %.1f | %.1f | %.2fx time | - | - | - | %s |\n",
                    row, rate(row, raw), a, a / rate(row, raw), target[row]
                printf "%s\t%s\t0\n", row, rate(row, raw) / a > ratios
                continue
            }
            r_raw = ratio(a, rate(row, raw)); r_uv = ratio(a, rate(row, uv)); r_py = ratio(a, rate(row, py))
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s/%s/%s/%s | %s |\n", row,
                show(rate(row, py)), show(rate(row, uv)), show(rate(row, raw)), show(a),
                showratio(r_raw), showratio(r_uv), showratio(r_py),
                rss(row, py), rss(row, uv), rss(row, raw), rss(row, "aio"), target[row]
            printf "%s\t%s\t%s\n", row, (r_raw == "" ? 0 : r_raw), (r_uv == "" ? 0 : r_uv) > ratios
        }
        # Rows that hold all their tasks pending at once: peak RSS over the task count, in
        # bytes per task (the baseline of the process, a few MB, is included: small at 100k tasks).
        print ""
        print "| row (tasks pending at once) | asyncio | uvloop | raw Asio | aio | B/task aio/raw |"
        print "|---|---|---|---|---|---|"
        for (i = 1; i <= rows; i++) {
            row = order[i]
            if (!(row in holds) || !(row in tasks)) continue
            n = tasks[row]
            printf "| %s (%s) | %s | %s | %s | %s | %s |\n", row, show(n),
                per_task(row, "asyncio", n), per_task(row, "uvloop", n),
                per_task(row, "raw-asio", n), per_task(row, "aio", n),
                showratio(ratio(rss_max[row SUBSEP "aio"], rss_max[row SUBSEP "raw-asio"]))
        }
    }
' "$lines" >"$table"

echo
echo "rates in operations per second (echo: round trips, HTTP: requests); median of $rounds"
echo "round(s), $echo_rounds for echo, HTTP and compile; peak RSS is the largest seen"
cat "$table"

# The echo servers' CPU time per round trip.
if [[ -s $out/echo_cpu.txt ]]; then
    echo
    awk -v pinned="${#server_cpu[@]}" "$awk_median"'
        {
            if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 }
            cpu[$1 SUBSEP $2] = cpu[$1 SUBSEP $2] " " $3
        }
        function show(row, impl,    key) {
            key = row SUBSEP impl
            return (key in cpu) ? sprintf("%.2f", median(cpu[key])) : "-"
        }
        END {
            printf "| server CPU us per round trip%s | asyncio | uvloop | raw Asio | aio | raw/aio | uvloop/aio |\n",
                (pinned > 0 ? " (server and client pinned)" : "")
            print "|---|---|---|---|---|---|---|"
            for (i = 1; i <= rows; i++) {
                row = order[i]
                a = show(row, "aio"); r = show(row, "raw-asio"); u = show(row, "uvloop")
                printf "| %s | %s | %s | %s | %s | %s | %s |\n", row, show(row, "asyncio"), u, r, a,
                    (a != "-" && r != "-" && a > 0) ? sprintf("%.2fx", r / a) : "-",
                    (a != "-" && u != "-" && a > 0) ? sprintf("%.2fx", u / a) : "-"
            }
        }
    ' "$out/echo_cpu.txt"
fi

# The message queue's latency: one message at a time to 4 subscribers, until the last has it.
echo
awk "$awk_median"'
    { if (!($1 in p50)) order[++rows] = $1; p50[$1] = p50[$1] " " $2; p99[$1] = p99[$1] " " $3 }
    END {
        print "| mq_fanout latency (1 message, 4 subscribers) | p50 us | p99 us |"
        print "|---|---|---|"
        for (i = 1; i <= rows; i++) {
            printf "| %s | %.0f | %.0f |\n", order[i], median(p50[order[i]]), median(p99[order[i]])
        }
    }
' "$out/mq_latency.txt"

# The idle connections' table: KB per connection, and aio's against each.
echo
awk -v n="$idle_connections" '
    {
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            v[kv[1]] = kv[2]
        }
        order[++rows] = v["name"]
        connected[v["name"]] = v["kb_per_connection_connected"]
        echoed[v["name"]] = v["kb_per_connection_echoed"]
        kernel[v["name"]] = v["kernel_kb_per_connection"]
    }
    END {
        printf "| server (%d idle connections) | KB/connection, connected | after one echo | aio/this | kernel KB/connection (both ends) |\n", n
        print "|---|---|---|---|---|"
        for (i = 1; i <= rows; i++) {
            name = order[i]
            printf "| %s | %.2f | %.2f | %.2fx | %.1f |\n", name, connected[name], echoed[name],
                echoed["aio"] / echoed[name], kernel[name]
        }
    }
' "$idle"

if $plot; then
    draw_chart "$ratios"
fi
