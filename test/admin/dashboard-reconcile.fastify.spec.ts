import { dashboardReconcileSuite } from './support/dashboard-reconcile.suite.js';

dashboardReconcileSuite('fastify');
