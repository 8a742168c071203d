export * from '@tributary/emulators';
