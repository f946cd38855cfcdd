#!/bin/sh
# Installed as /usr/local/bin/shoal-install: the bundled installer, run by whichever node (>= 20) is on PATH
# (/usr/bin/node from the distro in the maintenance image, /usr/local/bin/node in the test VM).
exec node /usr/local/lib/shoal-install/shoal-install.mjs "$@"
