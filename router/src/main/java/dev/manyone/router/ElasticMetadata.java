package dev.manyone.router;

import dev.manyone.elastic.slice.Rankings;

import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a parent says about its elasticity (docs/elastic-format.md):
 * <ul>
 *   <li>{@link Kind#ROUTER}: elastic.json with budgets, axes and router + elastic.safetensors with rankings and router
 *       weights — trained budgets resolve through the router;</li>
 *   <li>{@link Kind#RANKINGS}: rankings without a router (elastic.json without {@code router}, or a golden-style
 *       {@code rankings.json}) — every child comes from the search and is "not router-trained";</li>
 *   <li>{@link Kind#PLAIN}: no elastic metadata — identity rankings, default candidate choices.</li>
 * </ul>
 *
 * @param source   the file the metadata came from (elastic.json or rankings.json), null for a plain checkpoint
 * @param budgets  trained budgets, in router input order (may be empty without a router)
 * @param axes     candidate choices by axis (empty: the search uses {@link Candidates#defaults})
 * @param router   the routers, null unless {@link Kind#ROUTER}
 * @param scores   raw importance scores, {@link ImportanceScores#NONE} when absent
 */
public record ElasticMetadata(Kind kind, Path source, List<Budget> budgets, Map<Axis, AxisChoices> axes, Router router,
                              Rankings rankings, ImportanceScores scores) {

    public enum Kind {
        PLAIN("plain checkpoint (no elastic metadata)"),
        RANKINGS("rankings only (no router)"),
        ROUTER("router-trained elastic parent");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }

        /** "plain", "rankings", "router". */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public ElasticMetadata {
        budgets = List.copyOf(budgets);
        EnumMap<Axis, AxisChoices> a = new EnumMap<>(Axis.class);
        a.putAll(axes);
        axes = Collections.unmodifiableMap(a);
        scores = scores == null ? ImportanceScores.NONE : scores;
        if ((kind == Kind.ROUTER) != (router != null)) {
            throw new IllegalArgumentException("a router is present exactly for Kind.ROUTER");
        }
    }

    public Optional<Router> routerIfPresent() {
        return Optional.ofNullable(router);
    }

    /** The index of budget {@code name} in router input order, or -1. */
    public int budgetIndex(String name) {
        for (int k = 0; k < budgets.size(); k++) {
            if (budgets.get(k).name().equals(name)) {
                return k;
            }
        }
        return -1;
    }
}
