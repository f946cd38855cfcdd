import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installDirOf } from '../../ops/disks.ts';

test('installDirOf: the install directory a mount belongs to, and never a live install that merely shows it', () => {
  assert.equal(installDirOf('/run/shoal-install/target-abc'), '/run/shoal-install/target-abc');
  assert.equal(installDirOf('/run/shoal-install/target-abc/boot/efi'), '/run/shoal-install/target-abc');
  assert.equal(installDirOf('/tmp/shoal-install-target-q/var'), '/tmp/shoal-install-target-q');
  // A live install binds /run into its target: a dead install's mount appears inside it too, and is the dead one's.
  assert.equal(installDirOf('/run/shoal-install/target-live/run/shoal-install/target-dead'), '/run/shoal-install/target-dead');
  assert.equal(installDirOf('/run/shoal-install/target-live/run/shoal-install/target-dead/boot'), '/run/shoal-install/target-dead');
  for (const other of ['/', '/mnt/run/shoal-install/target-x', '/run/shoal-install', '/run/shoal-install/target-', '/run/shoal-install/other']) {
    assert.equal(installDirOf(other), undefined, other);
  }
});
