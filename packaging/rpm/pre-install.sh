# egress-probe: the unprivileged user and group, before the files (owned by the group) land.
getent group egress-probe >/dev/null || groupadd --system egress-probe
getent passwd egress-probe >/dev/null || useradd --system --gid egress-probe \
    --home-dir /var/lib/egress-probe --no-create-home --shell /sbin/nologin \
    --comment "egress-probe checks" egress-probe
exit 0
