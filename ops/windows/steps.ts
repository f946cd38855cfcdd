// The two Windows steps after partition.service (which makes the ESP, MSR and NTFS partitions).
export { bootloaderWindowsStep } from './bootloader-step.ts';
export { imageWindowsStep } from './image-step.ts';
