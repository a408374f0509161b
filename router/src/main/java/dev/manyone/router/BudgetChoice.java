package dev.manyone.router;

import java.util.Map;

/**
 * A budget of elastic.json and the configuration it stands for.
 *
 * @param index         the budget's router input (one-hot position)
 * @param decision      the router's choice index for every segment of every axis (null when the parent has no router
 *                      and the configuration came from the search)
 * @param routerTrained true when the router chose the configuration
 */
public record BudgetChoice(Budget budget, int index, Map<Axis, int[]> decision, Configuration configuration, Cost cost,
                           boolean routerTrained) {
}
