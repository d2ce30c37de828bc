#!/bin/sh
# The release step, run once per deploy before any service starts: compose's `migrate` service and the
# k8s Job `portal-migrate` run it; the services' replicas never migrate (ARCHITECTURE.md).
#   1. every service's schema to its alembic head, each in its own database (<SVC>_DATABASE_URL);
#   2. every service's consumer queues declared on the broker (AMQP_URI), so that an event published
#      before a consumer first starts waits in its queue instead of being dropped.
# Run from the repository root (the image's WORKDIR). Both steps are idempotent: running it again is safe.
set -eu

echo "migrate: identity"
alembic -c services/identity/alembic.ini upgrade head
echo "migrate: roster"
alembic -c services/roster/alembic.ini upgrade head
echo "migrate: billing"
alembic -c services/billing/alembic.ini upgrade head
echo "migrate: messaging"
alembic -c services/messaging/alembic.ini upgrade head

echo "declare consumer queues"
python -m servicekit.events declare --config services/identity/config.yaml --service identity.service:IdentityService
python -m servicekit.events declare --config services/roster/config.yaml --service roster.service:RosterService
python -m servicekit.events declare --config services/billing/config.yaml --service billing.service:BillingService
python -m servicekit.events declare --config services/messaging/config.yaml --service messaging.service:MessagingService
echo "migrate: done"
