# Shell helpers shared by the perf/ scripts (sourced; each script defines `die`).

# utime + stime of the whole process (all threads), in clock ticks. Fields 14 and 15 of
# /proc/PID/stat; the command name in field 2 may hold spaces, so count from its closing paren.
cpu_ticks() {
    local stat rest
    read -r stat <"/proc/$1/stat" || die "process $1 is gone (did it crash? KEEP_TMP=1 keeps its log)"
    rest=${stat##*) }
    local -a fields
    read -r -a fields <<<"$rest"
    echo $((fields[11] + fields[12]))
}

# True while PID runs; a killed child of the script stays a zombie until bash reaps it, and
# kill -0 succeeds on a zombie, so read the state instead.
process_alive() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z && ${stat:0:1} != X ]]
}
