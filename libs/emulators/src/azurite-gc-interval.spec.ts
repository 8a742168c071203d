describe('azurite-gc-interval (preloaded into Azurite)', () => {
  const constants = () => require('azurite/dist/src/blob/utils/constants') as { DEFAULT_GC_INTERVAL_MS: number };
  afterEach(() => {
    delete process.env.AZURITE_GC_INTERVAL_MS;
    jest.resetModules();
  });

  it("sets Azurite's blob GC interval from AZURITE_GC_INTERVAL_MS", () => {
    process.env.AZURITE_GC_INTERVAL_MS = '1234';
    jest.isolateModules(() => {
      require('./azurite-gc-interval');
      expect(constants().DEFAULT_GC_INTERVAL_MS).toBe(1234);
    });
  });

  it("leaves Azurite's own 10 minutes without it", () => {
    jest.isolateModules(() => {
      require('./azurite-gc-interval');
      expect(constants().DEFAULT_GC_INTERVAL_MS).toBe(10 * 60 * 1000);
    });
  });
});
