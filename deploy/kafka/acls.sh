#!/usr/bin/env sh
# Who may write the log (issue 19). Without ACLs, anyone who can produce to voiceledger.events can
# open an account first and take it (a later genuine AccountOpened is dead-lettered), or credit
# a payment nobody made. With these, on a Kafka cluster whose listeners authenticate clients
# (SASL or mTLS) and whose authorizer denies by default
# (authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer,
#  allow.everyone.if.no.acl.found=false):
#   - only voiceledger api (User:voiceledger-api) and the edge (User:voiceledger-ingest: ingest,
#     receive, follow, tick, rates import) write the events topic and the rates topic;
#   - only the workers (User:voiceledger-worker) write what the ledger derives: entries, rated
#     calls, statuses, invoices, numbering, dead letters, their own changelogs, and the versions
#     of their settings (voiceledger.settings: a forged version could stop every worker's start);
#   - only the API writes the subscribers' erasure requests and their answers;
#   - readers (User:voiceledger-reader: verify, reconcile, finance's consumers) only read.
# Usage: BOOTSTRAP=kafka:9093 CONFIG=admin.properties sh deploy/kafka/acls.sh
# The topic names are the defaults (settings events_topic, ... and app_id "voiceledger").
set -eu
B="--bootstrap-server ${BOOTSTRAP:?} --command-config ${CONFIG:?}"
acl() { kafka-acls.sh $B --add "$@"; }

# The edge and the API: write what enters the ledger, nothing else.
for who in voiceledger-api voiceledger-ingest; do
  acl --allow-principal "User:$who" --operation Write --operation Describe --topic voiceledger.events
done
acl --allow-principal User:voiceledger-ingest --operation Write --operation Describe --topic voiceledger.rates
# A CDR the edge refuses goes to the dead letters with its reason (streams/edge/cdr_sink.py).
acl --allow-principal User:voiceledger-ingest --operation Write --operation Describe --topic voiceledger.dead-letter
# The API reads the accounts changelog for its directory of numbers; the edge too.
for who in voiceledger-api voiceledger-ingest; do
  acl --allow-principal "User:$who" --operation Read --operation Describe --topic voiceledger-accounts-changelog
done

# The workers: read every input, write every output and their own state, in their group.
acl --allow-principal User:voiceledger-worker --operation Read --operation Describe \
    --topic voiceledger.events --topic voiceledger.rates
for topic in voiceledger.ledger.entries voiceledger.calls.rated voiceledger.account.status voiceledger.invoices \
             voiceledger.invoice-numbering voiceledger.invoice-numbers voiceledger.dead-letter; do
  acl --allow-principal User:voiceledger-worker --operation Write --operation Read --operation Describe --topic "$topic"
done
acl --allow-principal User:voiceledger-worker --operation All --resource-pattern-type prefixed --topic voiceledger-
# Versions of the fold's settings (streams/worker/settings_log.py): a worker records its own at
# start; `voiceledger settings accept` runs with a worker's credentials; the API lists them.
acl --allow-principal User:voiceledger-worker --operation Write --operation Read --operation Describe \
    --topic voiceledger.settings
acl --allow-principal User:voiceledger-api --operation Read --operation Describe --topic voiceledger.settings
# Subscribers' erasure requests and their answers (streams/ledger/erasure_queue.py): the portal
# asks and the console answers, both in the API; `voiceledger subscriber ask | answer` runs with
# the API's credentials (as `subscriber erase` does: it logs the erasure on the events topic).
acl --allow-principal User:voiceledger-api --operation Write --operation Read --operation Describe \
    --topic voiceledger.erasure-requests
acl --allow-principal User:voiceledger-worker --operation All --resource-pattern-type prefixed --group voiceledger

# Readers: read the outputs and the log, write nothing.
acl --allow-principal User:voiceledger-reader --operation Read --operation Describe \
    --resource-pattern-type prefixed --topic voiceledger
acl --allow-principal User:voiceledger-reader --operation Read --resource-pattern-type prefixed --group voiceledger-reader
