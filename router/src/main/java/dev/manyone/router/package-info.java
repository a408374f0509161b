/**
 * Router inference and budgets (issue 6, not started): budget → configuration from the parent's router weights,
 * and a cost model for targets the router was not trained on. Nothing is implemented here yet.
 */
package dev.manyone.router;
