#include "counter_changes.hpp"

#include <gtest/gtest.h>

using mis::CounterChange;
using mis::CounterChanges;
using mis::DeliveryRow;

namespace {

constexpr int not_started = 0, processing = 1, complete = 2, failed = 3;

// One dispatch's change as (dispatch, messages, four status counts, touched).
using Summary = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>;

std::vector<Summary> summary(const CounterChanges &changes) {
    std::vector<Summary> out;
    for (const CounterChange &c : changes.by_dispatch())
        out.emplace_back(c.dispatch_id, c.messages, c.by_status[0], c.by_status[1], c.by_status[2],
                         c.by_status[3], c.touched);
    return out;
}

// Feeds an UPDATE's old and new tables row by row, as the trigger does.
void update(CounterChanges &changes, const std::vector<DeliveryRow> &before,
            const std::vector<DeliveryRow> &after) {
    for (size_t i = 0; i < before.size() || i < after.size(); i++)
        changes.updated(i < before.size() ? &before[i] : nullptr,
                        i < after.size() ? &after[i] : nullptr);
    changes.finish();
}

} // namespace

TEST(CounterChanges, InsertsCountPerDispatchInDispatchOrderWithoutTouching) {
    CounterChanges changes;
    changes.inserted({1, 20, 0, not_started});
    changes.inserted({2, 10, 0, not_started});
    changes.inserted({3, 20, 0, failed});
    changes.inserted({4, 20, 0, not_started});
    EXPECT_EQ(summary(changes),
              (std::vector<Summary>{{10, 1, 1, 0, 0, 0, false}, {20, 3, 2, 0, 0, 1, false}}));
}

TEST(CounterChanges, DeletesCountDownWithoutTouching) {
    CounterChanges changes;
    changes.deleted({1, 7, 2, complete});
    changes.deleted({2, 7, 0, failed});
    EXPECT_EQ(summary(changes), (std::vector<Summary>{{7, -2, 0, 0, -1, -1, false}}));
}

TEST(CounterChanges, StatusChangesMoveCountsAndTouch) {
    CounterChanges changes;
    update(changes, {{1, 5, 0, processing}, {2, 5, 0, processing}, {3, 6, 0, processing}},
           {{1, 5, 0, complete}, {2, 5, 0, failed}, {3, 6, 0, complete}});
    EXPECT_EQ(summary(changes),
              (std::vector<Summary>{{5, 0, 0, -2, 1, 1, true}, {6, 0, 0, -1, 1, 0, true}}));
}

TEST(CounterChanges, RowsWhoseCountedColumnsStayAreLeftOut) {
    CounterChanges changes;
    // An address or attempts update: same dispatch, status and run.
    update(changes, {{1, 5, 0, failed}, {2, 6, 1, complete}},
           {{1, 5, 0, failed}, {2, 6, 1, complete}});
    EXPECT_TRUE(changes.by_dispatch().empty());
}

TEST(CounterChanges, ARerunInTheSameStatusTouchesWithoutMovingCounts) {
    CounterChanges changes;
    update(changes, {{1, 5, 0, not_started}, {2, 8, 0, not_started}},
           {{1, 5, 1, not_started}, {2, 8, 0, not_started}});
    EXPECT_EQ(summary(changes), (std::vector<Summary>{{5, 0, 0, 0, 0, 0, true}}));
}

TEST(CounterChanges, ADeliveryMovedToAnotherDispatchCountsInBoth) {
    CounterChanges changes;
    update(changes, {{1, 5, 0, complete}}, {{1, 9, 0, complete}});
    EXPECT_EQ(summary(changes),
              (std::vector<Summary>{{5, -1, 0, 0, -1, 0, true}, {9, 1, 0, 0, 1, 0, true}}));
}

TEST(CounterChanges, TablesInDifferentOrdersArePairedByDeliveryId) {
    CounterChanges changes;
    update(changes,
           {{1, 5, 0, processing}, {2, 5, 0, failed}, {3, 5, 0, processing}, {4, 6, 0, failed}},
           {{3, 5, 0, complete}, {4, 6, 0, failed}, {2, 5, 0, failed}, {1, 5, 0, failed}});
    EXPECT_EQ(summary(changes), (std::vector<Summary>{{5, 0, 0, -2, 1, 1, true}}));
}

TEST(CounterChanges, UnpairedVersionsCountAsRemovedAndAdded) {
    CounterChanges changes;
    update(changes, {{1, 5, 0, processing}, {2, 5, 0, processing}}, {{2, 5, 0, complete}});
    EXPECT_EQ(summary(changes), (std::vector<Summary>{{5, -1, 0, -2, 1, 0, true}}));

    CounterChanges more;
    update(more, {{1, 5, 0, processing}}, {{1, 5, 0, complete}, {3, 6, 0, not_started}});
    EXPECT_EQ(summary(more),
              (std::vector<Summary>{{5, 0, 0, -1, 1, 0, true}, {6, 1, 1, 0, 0, 0, true}}));
}

TEST(CounterChanges, AnUnknownStatusIsRefused) {
    CounterChanges changes;
    EXPECT_THROW(changes.inserted({1, 5, 0, 4}), std::invalid_argument);
    EXPECT_THROW(changes.deleted({1, 5, 0, -1}), std::invalid_argument);
    EXPECT_TRUE(changes.by_dispatch().empty());
}
