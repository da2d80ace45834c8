import { adminInsightsSuite } from './support/admin-insights.suite.js';

adminInsightsSuite('express');
