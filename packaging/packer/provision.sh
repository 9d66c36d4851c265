#!/bin/sh
# Packer shell provisioner: install egress-probe, run the bake check, keep the JUnit file.
# Environment: RPM (the package on the instance), SPEC (the bake spec). Runs as root.
set -eu

dnf install -y "$RPM"
egress-probe --version

# Not --strict: an expectation this run cannot decide (say, no path verdict) is reported as
# skipped and does not fail the build; add --strict to make it.
status=0
egress-probe check --spec "$SPEC" \
    --output table=- \
    --output junit=/var/lib/egress-probe/bake-junit.xml \
    --output json=/var/lib/egress-probe/bake-report.json || status=$?
chmod 0644 /var/lib/egress-probe/bake-junit.xml 2>/dev/null || true

case "$status" in
0) echo "egress-probe: every expectation holds" ;;
1) echo "egress-probe: failing findings or expectations: the image is refused" >&2 ;;
*) echo "egress-probe: could not check (exit $status)" >&2 ;;
esac
exit "$status"
