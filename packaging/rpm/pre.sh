# The group must exist before the files that name it are installed.
echo 'u sluice - "sluice Kafka trigger daemon" /var/lib/sluice /usr/sbin/nologin' | systemd-sysusers -
