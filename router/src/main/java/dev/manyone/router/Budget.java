package dev.manyone.router;

/**
 * One trained budget of an elastic parent (elastic.json {@code budgets[k]}): its name and its parameter target. The
 * router's input for budget k is the one-hot vector e_k over the budgets, in file order.
 *
 * @param name   unique, non-blank, e.g. {@code "6B"} or {@code "small"}
 * @param params the parameter count the budget was trained for (positive, finite)
 */
public record Budget(String name, double params) {
}
