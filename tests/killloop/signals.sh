#!/usr/bin/env bash
# Shared by the kill loops (sourced): signals at random points, the exit status each signal
# allows, and the checks of the run records the signalled runs leave.
#   next_signal         the next signal of a shuffled bag of KILL, TERM and INT (each a third)
#   signal_run PID SIG  sends SIG, waits (at most STOP_DEADLINE s for TERM/INT), checks the
#                       exit status (KILL: any; TERM: 143 or 0; INT: 130 or 0); sets run_rc
#   check_records DIR PLOT_PROFILE   every run directory under DIR: plot_profile accepts its
#                       memory_profile.json (a torn last line only after SIGKILL) and its
#                       status is the one its run's end allows (expect_status, by pid)
# The loops start each run with `env --default-signal=INT`: bash starts background commands
# with SIGINT ignored (no job control), and a SIGINT before the job installs its handler
# (start-up, resume checks) would then be lost, not end the run.
declare -A expect_status=() # pid -> stopped | completed | killed-or-running
sig_bag=() n_missed=0 n_kill=0 n_term=0 n_int=0 n_finished_first=0
STOP_DEADLINE=${STOP_DEADLINE:-60}
STOP_GRACE_MS=${STOP_GRACE_MS:-3000} # exit 0 later than this after SIGTERM/SIGINT: signal ignored

next_signal() {
    if ((${#sig_bag[@]} == 0)); then
        sig_bag=(KILL TERM INT)
        local i j t
        for ((i = 2; i > 0; i--)); do
            j=$((RANDOM % (i + 1))); t=${sig_bag[i]}; sig_bag[i]=${sig_bag[j]}; sig_bag[j]=$t
        done
    fi
    next_sig=${sig_bag[0]}
    sig_bag=("${sig_bag[@]:1}")
}

# signal_run PID SIG LOG: returns 1 (and says why) when the exit status is not one SIG allows.
signal_run() {
    local pid=$1 sig=$2 log=$3 waited=0
    if [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]]; then
        # it has exited already (kill -0 succeeds on a zombie): no signal sent, none counted
        # (the loop counts one after this returns: `kills` is taken back here)
        run_rc=0; wait "$pid" 2>/dev/null || run_rc=$?
        n_missed=$((n_missed + 1)); kills=$((kills - 1))
        expect_status[$pid]=completed
        ((run_rc == 0)) || { echo "pid $pid exited $run_rc by itself; its log:"; cat "$log"; return 1; }
        return 0
    fi
    local t0 t1
    t0=$(date +%s%N)
    kill -"$sig" "$pid" 2>/dev/null || true
    if [[ $sig != KILL ]]; then
        while kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]]; do
            sleep 0.05; waited=$((waited + 1))
            if ((waited > STOP_DEADLINE * 20)); then
                echo "pid $pid still running ${STOP_DEADLINE} s after SIG$sig; its log:"; cat "$log"
                kill -9 "$pid"; return 1
            fi
        done
    fi
    run_rc=0
    wait "$pid" 2>/dev/null || run_rc=$?
    mkdir -p logs; cp "$log" "logs/$pid.log" 2>/dev/null || true
    case $sig in
    KILL) n_kill=$((n_kill + 1))
          if ((run_rc == 0)); then expect_status[$pid]=completed; n_finished_first=$((n_finished_first + 1))
          else expect_status[$pid]=killed-or-running; fi ;;
    TERM|INT)
        local want=143; [[ $sig == INT ]] && want=130
        [[ $sig == TERM ]] && n_term=$((n_term + 1)) || n_int=$((n_int + 1))
        t1=$(date +%s%N)
        if ((run_rc == 0 && (t1 - t0) / 1000000 > STOP_GRACE_MS)); then
            # a run that was done would have exited at once: the signal was not honoured
            echo "pid $pid exited 0 $(((t1 - t0) / 1000000)) ms after SIG$sig (a graceful stop ends within" \
                 "the batches in flight: it ignored the signal); its log:"; cat "$log"; return 1
        fi
        if ((run_rc == 0)); then expect_status[$pid]=completed; n_finished_first=$((n_finished_first + 1))
        elif ((run_rc == want)); then expect_status[$pid]=stopped-or-completed
        else echo "pid $pid exited $run_rc after SIG$sig (want $want, or 0 when done first); its log:"; cat "$log"; return 1
        fi ;;
    esac
    return 0
}

records_signal_after_done=0 records_kill_after_done=0 record_problems=0 records_checked=0 records_torn=0 records_without_profile=0 records_unknown=0
check_records() {
    local dir=$1 plot=$2 rd pid status want svg n=0
    while IFS= read -r rd; do
        rd=${rd%/run_record.json}
        records_checked=$((records_checked + 1))
        pid=${rd##*-}
        status=$(grep -o '"status": *"[a-z]*"' "$rd/run_record.json" | head -1 | sed 's/.*"\([a-z]*\)"$/\1/')
        want=${expect_status[$pid]:-}
        case $want in
        '') records_unknown=$((records_unknown + 1))
            echo "record $rd: no run of this loop had pid $pid (status $status)"; record_problems=$((record_problems + 1)) ;;
        killed-or-running) # (or completed: the kill landed after its record was written, at exit)
            [[ $status == killed || $status == running || $status == completed ]] ||
            { echo "record $rd: SIGKILLed run has status '$status' (want killed or running)"; record_problems=$((record_problems + 1)); }
            [[ $status != completed ]] || records_kill_after_done=$((records_kill_after_done + 1)) ;;
        stopped-or-completed) # (completed: the signal came after run_job returned, while the
                              # example printed its summary: the default action ended it)
            [[ $status == stopped || $status == completed ]] ||
            { echo "record $rd: a SIGTERM/SIGINT-stopped run has status '$status' (want stopped)"; cat "logs/$pid.log" 2>/dev/null || true
              record_problems=$((record_problems + 1)); }
            [[ $status != completed ]] || records_signal_after_done=$((records_signal_after_done + 1)) ;;
        *) [[ $status == "$want" ]] ||
            { echo "record $rd: status '$status', want '$want'; its log:"; cat "logs/$pid.log" 2>/dev/null || true
              record_problems=$((record_problems + 1)); } ;;
        esac
        if [[ ! -s $rd/memory_profile.json ]]; then
            # no batch completed (killed or stopped during start-up): nothing to plot
            # (a completed run without one found the job already done: nothing to load)
            records_without_profile=$((records_without_profile + 1))
            continue
        fi
        n=$((n + 1)); svg=$PWD/plot_$n.svg
        if ! "$plot" "$rd/memory_profile.json" "$svg" > plot.out 2> plot.err; then
            echo "record $rd: plot_profile refused its memory_profile.json:"; cat plot.err; record_problems=$((record_problems + 1))
        elif [[ -s plot.err ]]; then
            records_torn=$((records_torn + 1))
            if [[ $want != killed-or-running ]]; then
                echo "record $rd ($want): plot_profile notice (a torn line is allowed after SIGKILL only):"; cat plot.err
                record_problems=$((record_problems + 1))
            fi
        fi
        rm -f "$svg"
    done < <(find "$dir" -name run_record.json -path '*/[0-9]*-[0-9]*/run_record.json' | sort)
    echo "(runs that had exited when their signal was due: $n_missed, not counted as signalled)"
    echo "run records: $records_checked checked, $records_without_profile without a batch, $records_torn with a torn last line (after SIGKILL), $records_kill_after_done SIGKILLed after completing, $records_signal_after_done signalled after completing, $record_problems problems"
    ((record_problems == 0 && records_checked > 0))
}
