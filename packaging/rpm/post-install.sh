# egress-probe: state directories; the binary's mode, group and cap_net_raw come from the
# package itself (%attr and %caps).
install -d -o egress-probe -g egress-probe -m 0755 /var/lib/egress-probe /var/cache/egress-probe
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
