import { configDriveStep } from './linux/config-drive.ts';
import { bootloaderLinuxStep } from './linux/grub.ts';
import { imageLinuxStep } from './linux/rootfs.ts';
import { partitionStep } from './partition.ts';
import type { StepName } from './plan.ts';
import type { StepImpl } from './runner.ts';
import { bootloaderWindowsStep, imageWindowsStep } from './windows/steps.ts';

/** Each Shoal step name and what carries it out. */
export const STEPS: Record<StepName, StepImpl> = {
  'partition.service': partitionStep,
  'image-linux.service': imageLinuxStep,
  'config-drive.service': configDriveStep,
  'bootloader-linux.service': bootloaderLinuxStep,
  'image-windows.service': imageWindowsStep,
  'bootloader-windows.service': bootloaderWindowsStep,
};
