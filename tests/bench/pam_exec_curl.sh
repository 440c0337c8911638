#!/bin/sh
# The baseline: what an administrator might do without pam_freddy, a
# pam_exec.so script that makes the two API requests with curl.
# pam_exec runs it with the password on stdin (expose_authtok).
# Arguments: API_URL CA_FILE CODE
# (pam_exec cannot ask a second question, so the code is given here:
# the benchmark measures the cost of the two requests, nothing else.)
set -eu
api=$1 ca=$2 code=$3
# pam_exec writes the password followed by a NUL byte and no newline.
password=$(tr -d '\000')
reply=$(curl -sS --fail --cacert "$ca" -H 'Content-Type: application/json' \
	--data-binary @- "$api/auth/login" <<JSON
{"email_or_username": "$PAM_USER", "password": "$password"}
JSON
)
key=$(printf '%s' "$reply" | sed -n 's/.*"email_key": *"\([^"]*\)".*/\1/p')
[ -n "$key" ] || exit 1
curl -sS --fail --cacert "$ca" -H 'Content-Type: application/json' -o /dev/null \
	--data-binary "{\"email_key\": \"$key\", \"verification_code\": $code}" "$api/auth/verify"
