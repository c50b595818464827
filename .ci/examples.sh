#!/usr/bin/env bash
# CI: runs the `tools` and `chat` examples against the built-in offline demo server and checks what
# they print: the tool loop (call formed, tool run, answer quoting the result), and the chat through
# a pipe (two turns with their history, stats lines, reasoning hidden by --no-reasoning, exit 0 at EOF).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# Never talk to the real API from CI, whatever the environment holds.
offline=(env -u SILICONFLOW_API_KEY -u SILICONFLOW_BASE_URL)
# Bound every run, so a hung example fails the job instead of stalling it.
if command -v timeout >/dev/null 2>&1; then
    limit=(timeout 120)
else
    limit=()
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/stdout
err=$tmp/stderr
: >"$out"
: >"$err"
current=""

fail() {
    {
        echo
        echo "FAILED ($current): $*"
        echo "--- stdout ---"
        cat "$out"
        echo "--- stderr ---"
        cat "$err"
    } >&2
    exit 1
}

# run DESCRIPTION STDIN-FILE EXAMPLE [ARGS...]: runs an example offline; sets $status.
run() {
    current=$1
    local input=$2 example=$3
    shift 3
    echo "== $current"
    set +e
    "${offline[@]}" "${limit[@]}" cargo run --quiet --example "$example" -- "$@" \
        <"$input" >"$out" 2>"$err"
    status=$?
    set -e
}

expect_status() {
    if [[ $status -eq $1 ]]; then
        echo "  ok: exit status $status"
    else
        fail "expected exit status $1, got $status"
    fi
}

# expect DESCRIPTION TEXT: stdout contains TEXT (a fixed string).
expect() {
    if grep -qF -- "$2" "$out"; then
        echo "  ok: $1"
    else
        fail "$1: expected stdout to contain: $2"
    fi
}

# expect_not DESCRIPTION TEXT: stdout does not contain TEXT.
expect_not() {
    if grep -qF -- "$2" "$out"; then
        fail "$1: stdout must not contain: $2"
    else
        echo "  ok: $1"
    fi
}

# expect_count DESCRIPTION TEXT N: exactly N lines of stdout contain TEXT.
expect_count() {
    local n
    n=$(grep -cF -- "$2" "$out" || true)
    if [[ $n -eq $3 ]]; then
        echo "  ok: $1 ($n)"
    else
        fail "$1: expected $3 lines containing '$2', found $n"
    fi
}

echo "== building the examples"
cargo build --quiet --example tools --example chat

# --- tools: the whole loop --------------------------------------------------------------------
run "tools, offline" /dev/null tools
expect_status 0
expect "the model reasons before calling" "[reasoning]"
expect "the tool call forms from streamed fragments (id, name, arguments)" \
    '[tool call functions.get_weather:0] get_weather {"city": "Hangzhou"}'
expect "the first turn ends for the tool call" "(round 1: finish_reason tool_calls"
expect "the tool runs and its result goes back under the call id" \
    '[tool result functions.get_weather:0] {"city":"Hangzhou","condition":"partly cloudy"'
expect "the final answer quotes the weather" \
    'Here is what I found: the get_weather tool returned {"city":"Hangzhou","condition":"partly cloudy"'
expect "the second turn ends the loop" "(round 2: finish_reason stop"

# --- chat: two turns through a pipe -----------------------------------------------------------
printf 'hello\nhow are you?\n' >"$tmp/two-lines"
run "chat, two lines through a pipe" "$tmp/two-lines" chat
expect_status 0
expect "the first answer" '(turn 1) You said "hello"'
expect "the second answer, sent with the first turn in its history" \
    '(turn 2) You said "how are you?" and I heard you; the history you sent has 3 messages'
expect_count "a reasoning label per answer" "[reasoning]" 2
expect_count "an answer label per answer" "[answer]" 2
expect_count "a stats line per answer" "[stats] first token " 2
expect "stats carry speed and usage" " tokens/s · "
expect_not "no terminal escape codes on a pipe" $'\x1b['
expect_not "no prompt on a pipe" "> "

# --- chat: --no-reasoning and --system --------------------------------------------------------
run "chat --no-reasoning --system, through a pipe" "$tmp/two-lines" chat --no-reasoning --system "Be terse"
expect_status 0
expect_not "no reasoning label" "[reasoning]"
expect_not "no reasoning text" 'The user said "hello"'
expect_count "an answer label per answer" "[answer]" 2
expect "the system prompt was sent" 'Your system prompt was "Be terse"'
expect "the second answer" '(turn 2) You said "how are you?"'
expect_count "a stats line per answer" "[stats] first token " 2

# --- chat: /reset and an API error ------------------------------------------------------------
printf 'first\n/reset\nsecond\n' >"$tmp/reset"
run "chat /reset forgets the conversation" "$tmp/reset" chat
expect_status 0
expect "the reset is acknowledged" "(conversation cleared)"
expect "the turn after /reset is turn 1 again" '(turn 1) You said "second"'

printf 'hi\n' >"$tmp/one-line"
run "chat with an unknown model (an API error)" "$tmp/one-line" chat --model demo/unknown-model
expect_status 0
if grep -qF "error: HTTP 400: Model does not exist" "$err"; then
    echo "  ok: the error is reported on stderr with its status and message"
else
    fail "expected stderr to contain: error: HTTP 400: Model does not exist"
fi

echo "== examples passed"
