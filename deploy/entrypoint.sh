#!/bin/sh
# Create the stack's tokens if needed, then run the server in the foreground (PID 1 gets SIGTERM).
set -e
python /app/deploy/bootstrap_tokens.py
exec flowscope serve "$@"
