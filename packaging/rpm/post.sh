if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$1" -gt 1 ]; then systemctl try-restart sluice.service || true; fi
fi
