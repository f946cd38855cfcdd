#!/bin/sh
# Installed as /usr/local/bin/shoal-install: the bundled installer, run by whichever node (>= 20) is on PATH
# (/usr/bin/node from the distro in the maintenance image, /usr/local/bin/node in the test VM).
# --max-semi-space-size=1: a young generation of 1 MiB is collected often, so the buffers a container image's
# layers stream through are freed as they go, not piled up between collections (the bench's five-layer install
# peaked at 114-125 MiB RSS with it under Node 20, 133-152 without; under Node 24 120-139 with it, 188-221 without;
# the install's budget is 150 MiB).
exec node --max-semi-space-size=1 /usr/local/lib/shoal-install/shoal-install.mjs "$@"
