#!/usr/bin/env bash
# examples.report: print a titled list.
#
# Called as: report.sh [--bullet=X] [--uppercase] TITLE ITEM1,ITEM2,...
# Named parameters come first (--name=value; a true boolean is a bare --name, a false one is
# left out), then the positional ones in position order.
set -euo pipefail

bullet="-"
uppercase=0
while [[ $# -gt 0 && "$1" == --* ]]; do
    case "$1" in
        --bullet=*) bullet="${1#--bullet=}" ;;
        --uppercase) uppercase=1 ;;
        *) echo "report.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

title="${1:?report.sh: a title is required}"
items="${2:-}"

render() {
    echo "$title"
    if [[ -n "$items" ]]; then
        IFS=',' read -r -a entries <<< "$items"
        for entry in "${entries[@]}"; do
            echo "$bullet $entry"
        done
    fi
}

if [[ $uppercase -eq 1 ]]; then
    render | tr '[:lower:]' '[:upper:]'
else
    render
fi
