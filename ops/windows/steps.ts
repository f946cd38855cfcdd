import { StepError, type StepImpl } from '../runner.ts';

const notYet = async () => {
  throw new StepError('this build cannot install Windows yet', 'use a build of shoal-install with the Windows workflow');
};

export const imageWindowsStep: StepImpl = { title: 'Apply the Windows image', preflight: notYet, run: notYet };
export const bootloaderWindowsStep: StepImpl = { title: 'Write the Windows boot files and BCD store', run: notYet };
