/**
 * Elastic parents (issue 6): the elastic metadata beside {@code config.json} ({@code elastic.json} +
 * {@code elastic.safetensors}, see {@code docs/elastic-format.md}), router inference (budget → configuration, as in
 * Nemotron Elastic, arXiv 2511.16664), exact cost of a configuration (parameters, memory, measured decode latency) and
 * a nested search for targets the router was not trained on. The entry point is {@link dev.manyone.router.Budgets}.
 */
package dev.manyone.router;
