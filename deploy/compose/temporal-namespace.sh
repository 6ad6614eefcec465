#!/bin/sh
# One-shot: every municipality's namespace with its retention, and in each the custom search
# attributes (workflows/search_attributes.py; never personal data — they are not encrypted).
# The namespaces are the worker's: SAMVERKAN_NAMESPACES, comma-separated, each once, else
# TEMPORAL_NAMESPACE (infra/settings.py, Settings.namespaces). Safe to re-run: a namespace
# that exists is kept, and an attribute a namespace already has is left as it is.
set -euf  # -f: no globbing of the names
: "${TEMPORAL_ADDRESS:=temporal:7233}" "${TEMPORAL_NAMESPACE:=default}" "${RETENTION:=30d}"

namespaces=""
for ns in $(printf '%s\n' "${SAMVERKAN_NAMESPACES:-}" | tr ',' ' '); do
  case " $namespaces " in
    *" $ns "*) ;;
    *) namespaces="$namespaces $ns" ;;
  esac
done
[ -n "$namespaces" ] || namespaces=" $TEMPORAL_NAMESPACE"

until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do sleep 3; done
for ns in $namespaces; do
  temporal operator namespace describe -n "$ns" --address "$TEMPORAL_ADDRESS" >/dev/null \
    || temporal operator namespace create -n "$ns" --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
  temporal operator search-attribute create --namespace "$ns" --address "$TEMPORAL_ADDRESS" \
    --name CaseState --type Keyword \
    --name Municipality --type Keyword \
    --name NextDeadline --type Datetime \
    --name OverdueCount --type Int \
    --name OpenConsultations --type Int \
    --name Agency --type KeywordList
  echo "Namespace $ns ready"
done
