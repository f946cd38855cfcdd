import { access } from 'node:fs/promises';

/** Whether the path is there (a dangling symlink is not); never throws. */
export const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );
