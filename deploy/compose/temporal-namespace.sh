#!/bin/sh
# One-shot: the Samverkan namespace with its retention, and the custom search attributes
# (workflows/search_attributes.py; never personal data — they are not encrypted).
set -eu
: "${TEMPORAL_ADDRESS:=temporal:7233}" "${NAMESPACE:=samverkan}" "${RETENTION:=30d}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do sleep 3; done
temporal operator namespace describe -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" \
  || temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
temporal operator search-attribute create --namespace "$NAMESPACE" --address "$TEMPORAL_ADDRESS" \
  --name CaseState --type Keyword \
  --name Municipality --type Keyword \
  --name NextDeadline --type Datetime \
  --name OverdueCount --type Int \
  --name OpenConsultations --type Int \
  --name Agency --type KeywordList
echo "Namespace $NAMESPACE ready"
