#!/usr/bin/env bash
# `switchyard scheduler --transactions`: scheduler_crash.sh with the
# scheduler routing in Kafka transactions (1,500 jobs, 3 kill -9). The
# embedded broker does not enforce transactions (nor keep offsets sent with
# them: each restarted scheduler routes the jobs topic from its start), so
# this shows that the mode runs, and that the worker still answers each job
# once; on a real Kafka no copy would reach the worker. Also asserts every
# scheduler ran with a transactional.id that survives restarts and the last
# one committed transactions.
export SCHED_ARGS=--transactions SCHED_CRASH_JOBS=${SCHED_CRASH_JOBS:-1500}
export SCHED_CRASH_KILLS=${SCHED_CRASH_KILLS:-3}
source "$(dirname "$0")/scheduler_crash.sh"
ids=$(grep -h "transactions on: transactional.id " "$T"/scheduler-*.log | sed 's/.*transactional.id \([^" ]*\).*/\1/' | sort -u)
[ "$(grep -l "transactions on: transactional.id switchyard-scheduler-switchyard-scheduler-" "$T"/scheduler-*.log | wc -l)" = $((SCHED_CRASH_KILLS + 1)) ] \
    || fail "not every scheduler started its transactional producer"
[ "$(echo "$ids" | wc -l)" = 1 ] || fail "the transactional.id changed across restarts: $ids"
committed=$(grep -h "transactions: [0-9]* committed" "$T/scheduler-$SCHED_CRASH_KILLS.log" | sed 's/.*transactions: \([0-9]*\) committed.*/\1/')
[ "${committed:-0}" -gt 0 ] || fail "the last scheduler committed no transaction"
ok "transactional.id $ids kept across $SCHED_CRASH_KILLS restarts; the last scheduler committed $committed transaction(s)"
