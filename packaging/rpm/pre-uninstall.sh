# egress-probe: on erase (not upgrade), stop the timer and a running check.
if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now egress-probe.timer >/dev/null 2>&1 || true
    systemctl stop egress-probe.service >/dev/null 2>&1 || true
fi
exit 0
