// Preloaded into the bench's installs (node --import): the installer's own CPU time, apart from its children's,
// which GNU time adds into the tree's. stderr is a pipe here, written synchronously on Linux, so this lands at exit.
import process from 'node:process';

process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`OWN-CPU ms=${Math.round((user + system) / 1000)}\n`);
});
