import { DynamicModule, Module } from '@nestjs/common';
import { BrokerContext, createSyncHandlers } from '@tributary/sync';
import { AdminController, BROKER_CONTEXT, SYNC_HANDLERS, SyncController } from './sync.controller';

/** The broker: no state of its own beyond the shared context (object store + Redis) it is given. */
@Module({})
export class BrokerModule {
  static register(context: BrokerContext): DynamicModule {
    return {
      module: BrokerModule,
      controllers: [SyncController, AdminController],
      providers: [
        { provide: BROKER_CONTEXT, useValue: context },
        { provide: SYNC_HANDLERS, useValue: createSyncHandlers(context) },
      ],
    };
  }
}
