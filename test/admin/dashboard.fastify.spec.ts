import { dashboardSuite } from './support/dashboard.suite.js';

dashboardSuite('fastify');
